"""Plugins that answer (or decline) ``sdp_describe_attached`` with their own label, to observe call order."""

from __future__ import annotations

from spatialdata_plugins.core import hookimpl

#: labels of the plugins asked, in the order pluggy asked them (tests clear it)
asked: list[str] = []


class Answering:
    def __init__(self, label: str, answers: bool = True) -> None:
        self.label = label
        self.answers = answers

    @hookimpl
    def sdp_describe_attached(self, name, obj):
        asked.append(self.label)
        return self.label if self.answers else None


class Raising:
    @hookimpl
    def sdp_describe_attached(self, name, obj):
        raise ValueError("this plugin cannot describe anything")


alpha = Answering("alpha")
beta = Answering("beta")
gamma = Answering("gamma")
declining = Answering("declining", answers=False)
raising = Raising()
