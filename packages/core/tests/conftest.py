import sys
from pathlib import Path

# the small plugin modules used as fake entry points live next to the tests
sys.path.insert(0, str(Path(__file__).parent))
