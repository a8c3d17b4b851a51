"""CLI subcommands for REST API keys: ``apikey create|list|revoke``.

``create`` prints the new key alone on its last line, once; only its hash is stored.
"""

from __future__ import annotations

import argparse

from core.cli import print_json


def _cmd_create(args: argparse.Namespace) -> int:
    from core import apikeys
    from core.auth import SYSTEM
    from core.context import open_context

    ctx = open_context()
    info, key = apikeys.create_key(
        ctx.db, args.name, SYSTEM, rate_limit_per_minute=args.rate_limit
    )
    print(f"created API key {info.prefix} ({info.name!r}, {info.rate_limit_per_minute}/min)")
    print("store it now: it is shown only this once")
    print(key)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from core import apikeys
    from core.context import open_context

    ctx = open_context()
    rows = [
        {
            "prefix": k.prefix,
            "name": k.name,
            "rate_limit_per_minute": k.rate_limit_per_minute,
            "created_by": k.created_by,
            "created_at": str(k.created_at),
            "revoked_at": str(k.revoked_at) if k.revoked_at else None,
        }
        for k in apikeys.list_keys(ctx.db)
    ]
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        print(f"{r['prefix']}  {r['name']:<24} {r['rate_limit_per_minute']:>6}/min  {state}")
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    from core import apikeys
    from core.auth import SYSTEM
    from core.context import open_context

    ctx = open_context()
    info = apikeys.revoke_key(ctx.db, args.prefix, SYSTEM)
    print(f"revoked API key {info.prefix} ({info.name!r}) at {info.revoked_at}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from core.apikeys import DEFAULT_RATE_LIMIT

    p = sub.add_parser("apikey", help="REST API keys")
    actions = p.add_subparsers(dest="apikey_command", metavar="ACTION")
    create = actions.add_parser("create", help="create a key (printed once, on the last line)")
    create.add_argument("--name", required=True)
    create.add_argument("--rate-limit", type=int, default=DEFAULT_RATE_LIMIT,
                        help=f"requests per minute (default {DEFAULT_RATE_LIMIT})")
    create.set_defaults(func=_cmd_create)
    ls = actions.add_parser("list", help="keys by prefix (never the key itself)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_list)
    revoke = actions.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("--prefix", required=True)
    revoke.set_defaults(func=_cmd_revoke)
