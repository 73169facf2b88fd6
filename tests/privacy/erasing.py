"""Test helpers for erasure: a scene with every personal output, the customers, and scanners that
look for a customer's values in every table, object, file and Redis key."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa
import yaml

from pvideo.access.signin import DashboardSignin
from pvideo.db.models import User
from tests.conftest import CARD_SCENE, SECRET
from tests.studio.conftest import make_user

ERASED = {"customer_id": "ZX-ERASE-7731", "first_name": "Quillonia Vantablack", "email": "quillonia.v@erase-me.example"}
KEPT = {"customer_id": "ZX-KEEP-2208", "first_name": "Bertram Keeper", "email": "bertram.k@keep-me.example"}
NEEDLES = tuple(ERASED.values())

SCENE = {
    **{k: v for k, v in CARD_SCENE.items() if k != "layers"},
    "name": "erasable",
    "id_field": "customer_id",
    "fields": {"customer_id": {"type": "str"}, "first_name": {"type": "str"}, "email": {"type": "str"}},
    "layers": [CARD_SCENE["layers"][0]],
    "captions": {"lines": [{"start": 1.0, "end": 2.0, "text": "Hello {{ first_name }}, {{ email }}"}]},
    "thumbnail": {"start": 0.5, "duration": 1.0},
    "interactions": [
        {
            "type": "form",
            "id": "contact",
            "start": 2.0,
            "title": "Stay in touch, {{ first_name }}",
            "fields": [
                {"name": "email", "type": "email", "label": "Email", "required": True, "prefill": "{{ email }}"}
            ],
            "consent": {"text": "You may email me."},
        }
    ],
}


def write_scene(scenes_dir: Path) -> Path:
    """A scenes folder with the card scene and ``SCENE`` (``erasable``)."""
    scenes_dir.mkdir(parents=True, exist_ok=True)
    (scenes_dir / "erasable.yaml").write_text(yaml.safe_dump(SCENE, sort_keys=False))
    (scenes_dir / "card.yaml").write_text(yaml.safe_dump(CARD_SCENE, sort_keys=False))
    return scenes_dir


def studio_cookie(runtime, role: str) -> dict[str, str]:
    """The headers of a new studio user with ``role``: their session ``Cookie`` (its path is /studio,
    so it is sent by hand) and their ``X-CSRF-Token``."""
    from api.routes.studio.signed_in import csrf_token

    user_id = make_user(runtime, f"{role}-{uuid.uuid4().hex[:6]}@example.com", role)
    with runtime.db.session() as session:
        user = session.get(User, user_id)
        cookie = DashboardSignin(SECRET).user_cookie(user_id, user.session_generation)
        csrf = csrf_token(SimpleNamespace(runtime=runtime), user)
    return {"Cookie": f"pvideo_studio={cookie}", "X-CSRF-Token": csrf}


def row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()
            for t in sa.inspect(conn).get_table_names()
        }


def database_hits(engine: sa.Engine, needles: Iterable[str] = NEEDLES) -> list[str]:
    """``table.column: needle`` for every text, varchar or JSON value holding a needle (any case)."""
    hits = []
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            columns = conn.execute(
                sa.text(
                    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                    " AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'character')"
                )
            ).all()
        else:
            columns = [
                (t, c["name"])
                for t in sa.inspect(conn).get_table_names()
                for c in sa.inspect(conn).get_columns(t)
                if isinstance(c["type"], (sa.String, sa.JSON, sa.Text))
            ]
        for table, column in columns:
            for needle in needles:
                found = conn.execute(
                    sa.text(
                        f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS TEXT) ILIKE :n'
                        if engine.dialect.name == "postgresql"
                        else f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE :n'
                    ),
                    {"n": f"%{needle}%"},
                ).scalar_one()
                if found:
                    hits.append(f"{table}.{column}: {needle}")
    return hits


def file_hits(root: Path, needles: Iterable[str] = NEEDLES) -> list[str]:
    """Files under ``root`` whose name or bytes hold a needle (any case)."""
    lowered = [n.lower().encode() for n in needles]
    hits = []
    for path in root.rglob("*"):
        name = str(path.relative_to(root)).lower().encode()
        data = path.read_bytes().lower() if path.is_file() else b""
        hits += [f"{path}: {n.decode()}" for n in lowered if n in name or n in data]
    return hits


def bucket_hits(client, bucket: str, needles: Iterable[str] = NEEDLES) -> tuple[list[str], list[str]]:
    """Every version of every object of ``bucket``: (its keys, the hits in names or bytes)."""
    lowered = [n.lower().encode() for n in needles]
    keys, hits = [], []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            keys.append(v["Key"])
            body = client.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read().lower()
            hits += [
                f"{v['Key']}@{v['VersionId']}: {n.decode()}"
                for n in lowered
                if n in v["Key"].lower().encode() or n in body
            ]
        keys += [f"(marker) {m['Key']}" for m in page.get("DeleteMarkers", [])]
    return keys, hits


def redis_hits(url: str, needles: Iterable[str] = NEEDLES) -> tuple[int, list[str]]:
    """Every key of the Redis database at ``url``: (how many, those whose name or value holds a needle)."""
    import redis

    client = redis.Redis.from_url(url)
    lowered = [n.lower().encode() for n in needles]
    keys, hits = list(client.scan_iter(count=1000)), []
    for key in keys:
        kind = client.type(key).decode()
        if kind == "string":
            values = [client.get(key) or b""]
        elif kind == "hash":
            values = [k + b"=" + v for k, v in client.hgetall(key).items()]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            values = [repr(e).encode() for e in client.xrange(key)]
        else:
            values = [kind.encode()]
        blob = b"\n".join([key, *values]).lower()
        hits += [f"{key.decode()}: {n.decode()}" for n in lowered if n in blob]
    client.close()
    return len(keys), hits
