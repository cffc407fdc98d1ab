"""The compat server's mailer module: every mail as one JSON line in the
file ``options.out`` names, for the JS spec to read the links from."""

import json


def send_mail(message):
    with open(message["options"]["out"], "a", encoding="utf-8") as out:
        out.write(json.dumps({k: v for k, v in message.items() if k != "options"}) + "\n")
