"""`consent-ledger witness`: run a C2SP tlog-witness for someone else's log (or ours), far from its database.

`init` makes the witness's Ed25519 key and its store and prints its verifier key, the line a log
and its auditors are given. `serve` answers `POST /add-checkpoint` for the logs it is told to
trust (`--log <log verifier key>`, the log's origin being the key's name). It needs nothing of the
ledger: no database URL, no master key. It never starts without its store, since a witness that
forgot what it cosigned could be led to cosign a fork.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from audit.cosignature import WitnessKey, WitnessSigningKey
from audit.notes import NoteError, VerifierKey, b64
from audit.witness import Witness, WitnessStore, WitnessStoreError, witness_key_from_seed
from cli.options import stderr, stdout

app = typer.Typer(
    name="witness",
    help=(
        "A C2SP tlog-witness: cosigns a log's checkpoints only after checking that each extends the last one it "
        "cosigned, so a log cannot show two histories. Runs on its own key and store, without the ledger's database."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)

Name = Annotated[
    str,
    typer.Option(
        envvar="CONSENT_LEDGER_WITNESS_NAME",
        help="The witness's name in its cosignatures, a schema-less URL: witness.example.kz/w1",
    ),
]
KeyFile = Annotated[
    Path,
    typer.Option(envvar="CONSENT_LEDGER_WITNESS_KEY_FILE", help="The witness's key: base64 of an Ed25519 seed"),
]
Store = Annotated[
    Path,
    typer.Option(envvar="CONSENT_LEDGER_WITNESS_STORE", help="The witness's SQLite store of what it cosigned"),
]


@app.command()
def init(name: Name, key_file: KeyFile = Path("witness.key"), store: Store = Path("witness.db")) -> None:
    """Make the witness's key (mode 0600) and its store, and print its verifier key for logs and auditors."""
    if key_file.exists() or store.exists():
        _fail(f"{key_file if key_file.exists() else store} exists already; a witness is made once")
    try:
        WitnessKey(name, bytes(32))  # the name alone: no spaces, no '+'
    except NoteError as e:
        _fail(str(e))
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=key_file.parent, prefix=".witness-key-")  # mode 0600
    with os.fdopen(fd, "w") as file:
        file.write(b64(os.urandom(32)) + "\n")
    Path(temporary).rename(key_file)
    key = _key(name, key_file)
    try:
        WitnessStore.create(store, key).close()
    except WitnessStoreError as e:
        _fail(str(e))
    stderr.print(f"made the witness key {escape(str(key_file))} and the store {escape(str(store))}; back both up")
    stdout.print(str(key.verifier))


@app.command()
def serve(  # noqa: PLR0917  (typer passes options by name; each is one the operator may need)
    name: Name,
    log: Annotated[
        list[str],
        typer.Option(
            "--log",
            envvar="CONSENT_LEDGER_WITNESS_LOGS",
            help="A log to witness, by its verifier key ORIGIN+KEYID+KEY (repeat for several)",
        ),
    ],
    key_file: KeyFile = Path("witness.key"),
    store: Store = Path("witness.db"),
    host: Annotated[str, typer.Option(envvar="CONSENT_LEDGER_WITNESS_HOST", help="Interface to listen on")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(envvar="CONSENT_LEDGER_WITNESS_PORT", help="TCP port")] = 7380,
) -> None:
    """Serve the witness over HTTP: `POST /add-checkpoint`, `GET /<sha256(origin)>/checkpoint`, `/healthz`."""
    key = _key(name, key_file)
    logs: dict[str, list[VerifierKey]] = {}
    for text in log:
        try:
            verifier = VerifierKey.parse(text)
        except NoteError as e:
            _fail(f"--log {text!r}: {e}")
        logs.setdefault(verifier.name, []).append(verifier)
    try:
        witness = Witness(key, WitnessStore(store), logs)
    except WitnessStoreError as e:
        _fail(str(e))
    import uvicorn  # noqa: PLC0415  (the HTTP stack is loaded only when serving)

    from api.observability import log_json_lines  # noqa: PLC0415  (same)
    from api.witness import create_witness_app  # noqa: PLC0415  (same)

    log_json_lines()
    stderr.print(f"witness {key.verifier} for {', '.join(sorted(logs))} on http://{host}:{port}")
    try:
        uvicorn.run(create_witness_app(witness), host=host, port=port, log_config=None, access_log=False)
    finally:
        witness.store.close()


def _key(name: str, key_file: Path) -> WitnessSigningKey:
    try:
        key = witness_key_from_seed(name, key_file.read_text())
        key.verifier  # noqa: B018  (checks the name: no spaces, no '+')
    except OSError as e:
        _fail(f"cannot read the witness key {key_file}: {e.strerror}")
    except (WitnessStoreError, NoteError) as e:
        _fail(f"{key_file}: {e}")
    return key


def _fail(message: str) -> NoReturn:
    stderr.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code=1)
