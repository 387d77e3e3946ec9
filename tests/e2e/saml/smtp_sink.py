"""An SMTP server that receives Portner's notices to users (HD-5) for
`tests/tests/integration/notify.rs`.

aiosmtpd is an SMTP implementation nobody on the team wrote, so the test exercises Portner's
mail client against a real protocol peer rather than against its own idea of SMTP.

    smtp_sink.py

At start it prints `portner-smtp: {"port": N}` once it listens on 127.0.0.1:N. Each message it
accepts is printed as `portner-smtp: {"from": ..., "to": [...], "subject": ..., "body": ...}`
with the subject and body decoded (quoted-printable or base64, any charset). It stops when its
standard input closes.
"""

import email
import email.policy
import json
import socket
import sys

from aiosmtpd.controller import Controller


def say(value):
    print("portner-smtp: " + json.dumps(value), flush=True)


class Sink:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        say({
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(message["subject"]),
            "body": body.get_content() if body is not None else "",
        })
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    say({"port": port})
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
