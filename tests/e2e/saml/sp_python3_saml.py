"""python3-saml (OneLogin) as a strict SP for Portner's A15 test (security-tests.md A15, 7.3).

Driven by `tests/tests/integration/sp_libraries.rs` over standard input and output, one JSON
object a line; every answer line starts with `portner-sp: ` so that nothing else printed can be
mistaken for one. The SP lives only in this process: it keeps the ID of its open request, as an
SP application keeps it in the browser's session.

    sp_python3_saml.py BASE_URL SP_KEY_PEM SP_CERT_PEM IDP_METADATA_XML

At start it prints `{"metadata": ...}`, the SP metadata python3-saml itself generates. Then:

    {"command": "login", "relay_state": "..."}
        -> {"url": "<Portner's SSO URL with the signed Redirect query>", "request_id": "..."}
    {"command": "acs", "SAMLResponse": "...", "RelayState": "...", "strict": true}
        -> {"accepted": true, "name_id": ..., "attributes": {...}, ...}
         | {"accepted": false, "refused_by": "library", "reason": "<python3-saml's error>", ...}
    anything that goes wrong otherwise -> {"error": "..."}, which fails the test

The SP runs in python3-saml's strictest mode: `strict: true`, schema validation, signed and
encrypted assertions required, deprecated algorithms refused, Destination and Recipient
compared with this SP's ACS URL, and InResponseTo compared with the ID of the last request this
SP sent. python3-saml leaves remembering that ID to the application: this driver does, as one
browser session would, and spends it on success; with no request open it refuses a Response
itself (the answer then says `"refused_by": "driver"`).
"""

import base64
import copy
import json
import sys
import traceback
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree
import onelogin.saml2
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings

PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
SUBSTANTIAL = "https://data.gov.dk/concept/core/nsis/loa/Substantial"


def settings(base_url, key_pem, cert_pem, idp_metadata):
    """python3-saml settings in its strictest form, with the IdP read from Portner's metadata."""
    idp = OneLogin_Saml2_IdPMetadataParser.parse(
        idp_metadata,
        required_sso_binding=OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT,
    )
    sp = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": f"{base_url}/metadata",
            "assertionConsumerService": {
                "url": f"{base_url}/acs",
                "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST,
            },
            "NameIDFormat": PERSISTENT,
            "x509cert": cert_pem,
            "privateKey": key_pem,
        },
        "security": {
            "authnRequestsSigned": True,
            "signatureAlgorithm": OneLogin_Saml2_Constants.RSA_SHA256,
            "digestAlgorithm": OneLogin_Saml2_Constants.SHA256,
            "wantAssertionsSigned": True,
            "wantAssertionsEncrypted": True,
            # RS-2: Portner signs the assertion; the Response envelope only when an SP asks.
            "wantMessagesSigned": False,
            "wantNameId": True,
            "wantAttributeStatement": True,
            "allowRepeatAttributeName": False,
            "rejectDeprecatedAlgorithm": True,
            # AC-1: ask for NSIS Substantial as a minimum, and insist on getting it.
            "requestedAuthnContext": [SUBSTANTIAL],
            "requestedAuthnContextComparison": "minimum",
            "failOnAuthnContextMismatch": True,
        },
    }
    return OneLogin_Saml2_IdPMetadataParser.merge_settings(sp, idp)


class ServiceProvider:
    def __init__(self, base_url, saml_settings):
        self.acs = urlsplit(f"{base_url}/acs")
        self.settings = saml_settings
        # The ID of the request this SP's one browser session waits for, as an application
        # keeps it in its session; None when no request is open.
        self.pending = None

    def request_data(self, post_data=None):
        """What python3-saml reads of the HTTP request: its "current URL" is the ACS URL."""
        https = self.acs.scheme == "https"
        port = self.acs.port or (443 if https else 80)
        return {
            "https": "on" if https else "off",
            "http_host": self.acs.hostname,
            "server_port": str(port),
            "script_name": self.acs.path,
            "get_data": {},
            "post_data": post_data or {},
        }

    def metadata(self):
        saml_settings = OneLogin_Saml2_Settings(self.settings, sp_validation_only=True)
        metadata = saml_settings.get_sp_metadata()
        errors = saml_settings.validate_metadata(metadata)
        if errors:
            raise ValueError(f"python3-saml refused its own metadata: {errors}")
        return {"metadata": metadata.decode() if isinstance(metadata, bytes) else metadata}

    def login(self, message):
        auth = OneLogin_Saml2_Auth(self.request_data(), self.settings)
        url = auth.login(return_to=message.get("relay_state"))
        request_id = auth.get_last_request_id()
        self.pending = request_id
        return {"url": url, "request_id": request_id}

    def consume(self, message):
        form = {"SAMLResponse": message["SAMLResponse"]}
        if message.get("RelayState") is not None:
            form["RelayState"] = message["RelayState"]
        saml_settings = self.settings
        if message.get("strict") is False:
            # Only to show what python3-saml refuses the OIOSAML 3 pair for: strict mode always
            # validates the Response against its schemas, which lack XML Encryption 1.1
            # (python3-saml issue 436). Without strict, it still decrypts and verifies the
            # assertion's signature.
            saml_settings = copy.deepcopy(self.settings)
            saml_settings["strict"] = False
        auth = OneLogin_Saml2_Auth(self.request_data(form), saml_settings)
        if self.pending is None:
            # python3-saml compares InResponseTo with the request ID its caller passes; without
            # one it checks nothing. Remembering open requests is the application's job.
            return {"accepted": False, "refused_by": "driver", "reason": "no open request"}
        auth.process_response(request_id=self.pending)
        errors = auth.get_errors()
        if errors or not auth.is_authenticated():
            return {
                "accepted": False,
                "refused_by": "library",
                "errors": errors,
                "reason": auth.get_last_error_reason(),
                "schema_errors": schema_errors(message["SAMLResponse"]),
            }
        request_id, self.pending = self.pending, None
        return {
            "accepted": True,
            "request_id": request_id,
            "in_response_to": auth.get_last_response_in_response_to(),
            "name_id": auth.get_nameid(),
            "name_id_format": auth.get_nameid_format(),
            "session_index": auth.get_session_index(),
            "authn_contexts": auth.get_last_authn_contexts(),
            "attributes": auth.get_attributes(),
            "relay_state": form.get("RelayState"),
        }


def schema_errors(saml_response):
    """What python3-saml's protocol schema says of the Response (it prints this only in debug)."""
    schema_file = Path(onelogin.saml2.__file__).parent / "schemas" / "saml-schema-protocol-2.0.xsd"
    schema = etree.XMLSchema(etree.parse(str(schema_file)))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    document = etree.fromstring(base64.b64decode(saml_response), parser)
    schema.validate(document)
    return [error.message for error in schema.error_log]


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: sp_python3_saml.py BASE_URL SP_KEY_PEM SP_CERT_PEM IDP_METADATA_XML")
    base_url = sys.argv[1]
    key_pem, cert_pem, idp_metadata = (Path(path).read_text() for path in sys.argv[2:5])
    sp = ServiceProvider(base_url, settings(base_url, key_pem, cert_pem, idp_metadata))
    answer(sp.metadata())
    handlers = {"login": sp.login, "acs": sp.consume}
    for line in sys.stdin:
        message = json.loads(line)
        handler = handlers.get(message["command"])
        try:
            if handler is None:
                raise ValueError(f"unknown command {message['command']}")
            answer(handler(message))
        except Exception:  # Reported to the test, which fails on it.
            answer({"error": traceback.format_exc()})


def answer(value):
    print("portner-sp: " + json.dumps(value), flush=True)


if __name__ == "__main__":
    main()
