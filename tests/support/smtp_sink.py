#!/usr/bin/env python3
"""A real SMTP server for the `vigie serve` tests: `smtp_sink.py PORT DIR`.

Listens on 127.0.0.1:PORT (aiosmtpd, no TLS, no auth) and writes every accepted
message atomically into DIR as `<n>.eml` (the raw message as received) and `<n>.rcpt`
(the envelope recipients, one per line). The `.rcpt` file is renamed into place last, so
a reader that sees `<n>.rcpt` also sees the complete `<n>.eml`.

A sender whose local part starts with `refused-sender` is refused at MAIL FROM with a
553. Recipients whose local part starts with `reject` are refused at RCPT time with
`550 5.1.1 mailbox unavailable` (a permanent error). Those starting with `refuse` are
refused with a 550 that echoes the address and its local part, as many relays do. Those
starting with `busy` get `451 4.2.1` (echoing the address too) until a file named
`busy-ok` exists in DIR, then they are accepted.

Prints `ready` on stdout once listening, then runs until SIGTERM/SIGINT (or SIGKILL).
Numbering resumes after the highest `<n>` already in DIR, so a restarted sink never
overwrites what an earlier one received.
"""

import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.dir = directory
        self.lock = threading.Lock()
        n = 0
        for name in os.listdir(directory):
            stem, _, ext = name.partition(".")
            if ext in ("eml", "rcpt") and stem.isdigit():
                n = max(n, int(stem))
        self.n = n

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address.split("@", 1)[0].lower().startswith("refused-sender"):
            return "553 5.7.1 <%s>: sender address rejected" % address
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("refuse"):
            return "550 5.1.1 <%s>: Recipient address rejected: user %s unknown" % (address, local)
        if local.startswith("busy") and not os.path.exists(os.path.join(self.dir, "busy-ok")):
            return "451 4.2.1 <%s>: mailbox %s busy, try again later" % (address, local)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content
        if data is None:
            data = envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        with self.lock:
            self.n += 1
            n = self.n
        base = os.path.join(self.dir, str(n))
        self._write(base + ".eml", data)
        self._write(base + ".rcpt", "".join(r + "\n" for r in envelope.rcpt_tos).encode())
        return "250 Message accepted for delivery"

    def _write(self, path, data):
        tmp = os.path.join(self.dir, ".%s.tmp" % os.path.basename(path))
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: smtp_sink.py PORT DIR\n")
        sys.exit(2)
    port = int(sys.argv[1])
    directory = sys.argv[2]
    os.makedirs(directory, exist_ok=True)

    done = threading.Event()

    def stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    controller = Controller(
        Sink(directory),
        hostname="127.0.0.1",
        port=port,
        ready_timeout=10,
        # Messages are bytes as received; no SMTPUTF8 surprises.
        decode_data=False,
    )
    controller.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    try:
        while not done.wait(0.5):
            pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
