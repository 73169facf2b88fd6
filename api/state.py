"""What the app holds for its lifetime: runtime (settings, db, storage), queue, tokens."""

from __future__ import annotations

from dataclasses import dataclass

from pvideo.tokens import ViewerTokens
from workers.queue import RenderQueue
from workers.runtime import Runtime


@dataclass
class AppState:
    runtime: Runtime
    queue: RenderQueue
    tokens: ViewerTokens

    @classmethod
    def build(cls, runtime: Runtime) -> "AppState":
        return cls(runtime=runtime, queue=RenderQueue(runtime),
                   tokens=ViewerTokens(runtime.settings.signing_key))
