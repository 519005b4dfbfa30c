#!/usr/bin/env python3
"""Load from many client addresses, which smtp-source cannot make (it cannot bind a source
address): SESSIONS concurrent clients, client i bound to ADDRESSES[i % len], each sending one
message per session as smtp-source does (banner, EHLO, MAIL, RCPT, DATA, the message, QUIT,
no pipelining), until MESSAGES messages are sent in all. One asyncio loop drives every
session, so the client costs the same against either server and the two figures compare.

  spread_source.py --port P --sessions N --messages M --size BYTES --addresses A1,A2,...

Exit 0 when every message got its 250; otherwise the first unexpected reply on stderr and
exit 1."""
import argparse
import asyncio
import sys


class Unexpected(Exception):
    pass


async def reply(reader):
    while True:
        line = await reader.readline()
        if not line:
            raise Unexpected("connection closed")
        if line[3:4] != b"-":
            return line


async def expect(reader, code, what):
    line = await reply(reader)
    if not line.startswith(code):
        raise Unexpected(f"{what}: {line.decode('latin-1').strip()}")


async def one_session(port, source, body, rcpt):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        await expect(reader, b"220", "banner")
        for command, code in ((b"EHLO client.bench.test", b"250"),
                              (b"MAIL FROM:<sender@client.bench.test>", b"250"),
                              (b"RCPT TO:<" + rcpt + b">", b"250"),
                              (b"DATA", b"354")):
            writer.write(command + b"\r\n")
            await expect(reader, code, command.decode())
        writer.write(body)
        await expect(reader, b"250", "end of data")
        writer.write(b"QUIT\r\n")
        await expect(reader, b"221", "QUIT")
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def main(args):
    addresses = args.addresses.split(",")
    line = b"X" * 78 + b"\r\n"
    text = b"From: <sender@client.bench.test>\r\nTo: <rcpt@far.test>\r\nSubject: bench\r\n\r\n"
    while len(text) < args.size:
        text += line
    body = text[:args.size].rstrip(b"\r\n") + b"\r\n.\r\n"
    remaining = [args.messages]

    async def worker(i):
        source = addresses[i % len(addresses)]
        while remaining[0] > 0:
            remaining[0] -= 1
            await one_session(args.port, source, body, args.rcpt.encode())

    results = await asyncio.gather(*(worker(i) for i in range(args.sessions)),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        print(f"spread_source: {len(errors)} sessions failed, first: {errors[0]!r}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--addresses", required=True)
    p.add_argument("--rcpt", default="rcpt@far.test")
    sys.exit(asyncio.run(main(p.parse_args())))
