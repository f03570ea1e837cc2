"""A TCP proxy between the ledger and its PostgreSQL server, run as a process of its own that a test can kill.

`python proxy.py LISTEN_PORT TARGET_PORT` forwards every connection to 127.0.0.1:TARGET_PORT and
prints `ready` once it listens. Killing it (SIGKILL) closes every connection at once, as a
database server that dies does; SIGSTOP leaves them open but silent, as a server that hangs.
"""

from __future__ import annotations

import asyncio
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(listen: int, target: int) -> None:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", listen, reuse_address=True)
    print("ready", flush=True)  # noqa: T201  (the test waits for this line)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
