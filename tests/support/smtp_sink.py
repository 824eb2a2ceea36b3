#!/usr/bin/env python3
"""A real SMTP server for the `vigie serve` tests:
`smtp_sink.py PORT DIR [--starttls CERT KEY | --tls CERT KEY] [--no-pipelining]`.

Listens on 127.0.0.1:PORT (aiosmtpd, no auth) and writes every accepted message
atomically into DIR as `<n>.eml` (the raw message as received), `<n>.smtp` (how it came:
`pipelined: yes|no`, `tls: <version>|none`) and `<n>.rcpt` (the envelope recipients, one
per line). The `.rcpt` file is renamed into place last, so a reader that sees
`<n>.rcpt` also sees the complete `<n>.eml` and `<n>.smtp`.

PIPELINING (RFC 2920) is offered unless `--no-pipelining`. A message counts as
pipelined when its MAIL FROM, RCPT TO and DATA commands arrived in one read: a client
that waits for each answer cannot do that. `--starttls` offers STARTTLS with the
certificate chain CERT and key KEY (PEM); `--tls` speaks TLS from the first byte. Without
either, STARTTLS is not offered.

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
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


class RecordingSMTP(SMTP):
    """Remembers the read that brought the latest MAIL FROM, to tell pipelining."""

    mail_read = b""

    def data_received(self, data):
        if b"MAIL FROM:" in data.upper():
            self.mail_read = data.upper()
        super().data_received(data)


class RecordingController(Controller):
    def factory(self):
        return RecordingSMTP(self.handler, **self.SMTP_kwargs)


class Sink:
    def __init__(self, directory, pipelining=True):
        self.dir = directory
        self.pipelining = pipelining
        self.lock = threading.Lock()
        n = 0
        for name in os.listdir(directory):
            stem, _, ext = name.partition(".")
            if ext in ("eml", "rcpt") and stem.isdigit():
                n = max(n, int(stem))
        self.n = n

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

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
        group = getattr(server, "mail_read", b"")
        pipelined = b"RCPT TO:" in group and b"\r\nDATA\r\n" in group
        tls = server.transport.get_extra_info("ssl_object") if server.transport else None
        how = "pipelined: %s\ntls: %s\n" % ("yes" if pipelined else "no", tls.version() if tls else "none")
        self._write(base + ".eml", data)
        self._write(base + ".smtp", how.encode())
        self._write(base + ".rcpt", "".join(r + "\n" for r in envelope.rcpt_tos).encode())
        return "250 Message accepted for delivery"

    def _write(self, path, data):
        tmp = os.path.join(self.dir, ".%s.tmp" % os.path.basename(path))
        # No fsync: the rename alone makes the file appear whole to every reader on this
        # machine, and a sink killed with SIGKILL keeps what it wrote (only the machine
        # crashing loses unsynced files). Three fsyncs per message made the sink the
        # bottleneck of the 20,000-row tests (~16 ms a message on the CI disk).
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, path)


def main():
    args = sys.argv[1:]
    pipelining = "--no-pipelining" not in args
    args = [a for a in args if a != "--no-pipelining"]
    tls_mode, ctx = None, None
    if len(args) == 5 and args[2] in ("--starttls", "--tls"):
        tls_mode = args[2]
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args[3], args[4])
        args = args[:2]
    if len(args) != 2:
        sys.stderr.write("usage: smtp_sink.py PORT DIR [--starttls CERT KEY | --tls CERT KEY] [--no-pipelining]\n")
        sys.exit(2)
    port = int(args[0])
    directory = args[1]
    os.makedirs(directory, exist_ok=True)

    done = threading.Event()

    def stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    tls = {}
    if tls_mode == "--starttls":
        tls = {"tls_context": ctx}
    elif tls_mode == "--tls":
        tls = {"ssl_context": ctx}
    controller = RecordingController(
        Sink(directory, pipelining),
        hostname="127.0.0.1",
        port=port,
        ready_timeout=10,
        # Messages are bytes as received; no SMTPUTF8 surprises.
        decode_data=False,
        **tls,
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
