#!/usr/bin/python3
"""A scriptable SMTP server for the delivery fault tests (asyncio, no dependencies).

usage: fault_server.py ADDRESS PORT DIR [--size N] [--silent]

What it does is chosen by each recipient's local part:
  tempfail-once*   451 4.7.1 to its first RCPT, 250 afterwards
  tempfail-always* 451 4.7.1 to every RCPT
  reject*          550 5.1.1 to every RCPT
  dropdata-once*   the first transaction carrying it loses its connection in the middle
                   of the message (after some body bytes), later ones are taken
  anything else    250
With --size N it offers SIZE N. With --silent it accepts connections and never says a word
(no greeting): each connection is logged as a line "connected" in DIR/silent-PORT.log. Each accepted message becomes DIR/msg-<n>.txt: "MAIL <from>",
"RCPT <to>" lines, a blank line, the data as received (dot-stuffing undone)."""
import asyncio
import os
import sys

ADDRESS, PORT, DIR = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SIZE = int(sys.argv[sys.argv.index("--size") + 1]) if "--size" in sys.argv else 0
SILENT = "--silent" in sys.argv
seen = set()
counter = [0]


async def silent(reader, writer):
    with open(os.path.join(DIR, "silent-%d.log" % PORT), "a") as f:
        f.write("connected\n")
    try:
        while await reader.read(4096):
            pass  # whatever the client says, no answer
    except ConnectionError:
        pass
    finally:
        writer.close()


async def session(reader, writer):
    def say(line):
        writer.write(line.encode() + b"\r\n")

    say("220 fault.test ESMTP scriptable")
    sender, rcpts, drop = None, [], False
    try:
        while True:
            line = await asyncio.wait_for(reader.readline(), 120)
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                extra = ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]
                if SIZE:
                    extra.append("SIZE %d" % SIZE)
                say("250-fault.test")
                for e in extra[:-1]:
                    say("250-" + e)
                say("250 " + extra[-1])
            elif verb == "MAIL":
                sender, rcpts, drop = cmd[10:].split(" ")[0], [], False
                say("250 2.1.0 ok")
            elif verb == "RCPT":
                to = cmd[8:].strip()
                local = to.strip("<>").split("@")[0]
                if local.startswith("tempfail-once") and to not in seen:
                    seen.add(to)
                    say("451 4.7.1 try again later")
                elif local.startswith("tempfail-always"):
                    say("451 4.7.1 try again later")
                elif local.startswith("reject"):
                    say("550 5.1.1 no such user here")
                else:
                    if local.startswith("dropdata-once") and to not in seen:
                        seen.add(to)
                        drop = True
                    rcpts.append(to)
                    say("250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpts:
                    say("554 5.5.1 no valid recipients")
                    continue
                say("354 go ahead")
                await writer.drain()
                data = []
                while True:
                    l = await asyncio.wait_for(reader.readline(), 120)
                    if not l:
                        return
                    if drop and len(data) >= 2:
                        writer.transport.abort()  # the connection drops in DATA
                        return
                    if l == b".\r\n":
                        break
                    data.append(l[1:] if l.startswith(b".") else l)
                counter[0] += 1
                path = os.path.join(DIR, "msg-%d-%d.txt" % (PORT, counter[0]))
                with open(path + ".tmp", "wb") as f:
                    f.write(b"MAIL " + sender.encode() + b"\r\n")
                    for r in rcpts:
                        f.write(b"RCPT " + r.encode() + b"\r\n")
                    f.write(b"\r\n" + b"".join(data))
                os.rename(path + ".tmp", path)
                say("250 2.0.0 queued as %d" % counter[0])
            elif verb == "RSET":
                sender, rcpts, drop = None, [], False
                say("250 2.0.0 ok")
            elif verb == "QUIT":
                say("221 2.0.0 bye")
                await writer.drain()
                return
            else:
                say("502 5.5.2 not implemented")
            await writer.drain()
    except (asyncio.TimeoutError, ConnectionError):
        return
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(silent if SILENT else session, ADDRESS, PORT)
    async with server:
        await server.serve_forever()


asyncio.run(main())
