"""A small pysaml2 service provider for Portner's end-to-end tests (issue 4).

A real third-party SP, not a mock: pysaml2 builds and signs the AuthnRequests and
LogoutRequests and checks the Responses itself (signature through the xmlsec1 command line,
audience, Destination, InResponseTo against the outstanding requests, time windows), in its
strict mode (security-tests.md 7.3: explicit RSA-SHA256, `allow_unsolicited: False`). It uses
the legacy encryption pair, since pysaml2 decrypts through Debian's xmlsec1 (7.1).

On start it makes fresh signing and encryption key pairs in STATE_DIR, writes its metadata to
STATE_DIR/sp-metadata.xml (for `portner sp add`) and prints one line
`sp listening on BASE_URL`. Portner's metadata is fetched from IDP_METADATA_URL on first use,
so the SP can be registered before Portner starts.

Endpoints (all on 127.0.0.1, a different site from Portner's `localhost`, so the Response
POST is cross-site as in production, security-tests.md 7.4):
- `GET /metadata`: the SP metadata.
- `GET /login?binding=redirect|post&relay=...&sigalg=sha256|sha1&loa=...&force=1&passive=1`:
  SP-initiated SSO with a signed AuthnRequest over that binding (`sigalg=sha1` only for
  negative tests), optionally with a minimum level, `ForceAuthn` or `IsPassive`.
- `POST /acs`: the Response; 200 with a JSON result in `<pre id="result">`, or 4xx with a
  JSON error in `<pre id="error">`.
- `GET /session`: whether this browser is signed in here, and as whom.
- `GET /logout`: SP-initiated single logout of the signed-in subject over Redirect.
- `GET /slo` with a LogoutResponse: the answer to `/logout`, its Redirect signature checked
  over the raw query bytes.
- `GET|POST /slo` with a LogoutRequest: Portner passing a logout on from another SP (SL-2);
  the request must be signed, and is answered with a signed LogoutResponse over the binding
  it came by (pysaml2's choice).

With SLO_BINDINGS `post` the metadata offers only an HTTP-POST logout endpoint, so Portner
must pass logouts on by POST and takes the answer back by POST; the default `both` offers
Redirect and POST.

Several instances may run side by side on different ports; each names its cookie after its
port, since cookies do not separate ports.

Usage: sp.py PORT STATE_DIR IDP_METADATA_URL [XMLSEC1 [SLO_BINDINGS]]
"""

import base64
import datetime
import html
import json
import secrets
import sys
import urllib.parse
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from defusedxml import ElementTree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_PERSISTENT, AuthnContextClassRef
from saml2.samlp import STATUS_SUCCESS, RequestedAuthnContext
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

ASSERTION_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
PROTOCOL_NS = "urn:oasis:names:tc:SAML:2.0:protocol"
LOA_PREFIX = "https://data.gov.dk/concept/core/nsis/loa/"

# Caps on what the SP reads; hostile input gets a 4xx, never a traceback.
MAX_BODY_BYTES = 512 * 1024
MAX_QUERY_BYTES = 16 * 1024
MAX_RELAY_STATE_BYTES = 1024
MAX_METADATA_BYTES = 1024 * 1024

SIGNATURE_ALGORITHMS = {"sha256": SIG_RSA_SHA256, "sha1": SIG_RSA_SHA1}


class Refused(Exception):
    """A request the SP refuses; carries the HTTP status and a short reason code."""

    def __init__(self, status, code, detail=""):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


# ---------------------------------------------------------------------------------------------
# Keys and configuration


def generate_key_pair(directory, name):
    """Writes a fresh RSA-2048 key and a self-signed certificate; returns their paths."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Portner e2e SP {name}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_path = directory / f"sp-{name}.key"
    certificate_path = directory / f"sp-{name}.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(key_path), str(certificate_path)


def sp_settings(
    base_url, signing, encryption, xmlsec1, idp_metadata=None, slo_bindings="both"
):
    """The pysaml2 configuration: signed requests, signed assertions, no unsolicited SSO."""
    logout_services = [(f"{base_url}/slo", BINDING_HTTP_POST)]
    if slo_bindings == "both":
        logout_services.insert(0, (f"{base_url}/slo", BINDING_HTTP_REDIRECT))
    settings = {
        "entityid": f"{base_url}/metadata",
        "key_file": signing[0],
        "cert_file": signing[1],
        "encryption_keypairs": [{"key_file": encryption[0], "cert_file": encryption[1]}],
        "xmlsec_binary": xmlsec1,
        "allow_unknown_attributes": True,
        "accepted_time_diff": 60,
        "service": {
            "sp": {
                "name": "Portner e2e SP",
                "endpoints": {
                    "assertion_consumer_service": [(f"{base_url}/acs", BINDING_HTTP_POST)],
                    "single_logout_service": logout_services,
                },
                "authn_requests_signed": True,
                "logout_requests_signed": True,
                "logout_responses_signed": True,
                "want_assertions_signed": True,
                "want_response_signed": False,
                "allow_unsolicited": False,
                "name_id_format": NAMEID_FORMAT_PERSISTENT,
                "name_id_policy_format": NAMEID_FORMAT_PERSISTENT,
            }
        },
        "preferred_binding": {"single_logout_service": [BINDING_HTTP_REDIRECT]},
    }
    if idp_metadata is not None:
        settings["metadata"] = {"inline": [idp_metadata]}
    return settings


def sp_metadata(settings):
    """The SP's metadata document, as pysaml2 writes it."""
    config = SPConfig()
    config.load(settings)
    return str(entity_descriptor(config))


def fetch(url):
    """Reads Portner's metadata, capped."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read(MAX_METADATA_BYTES + 1)
    except OSError as error:
        raise Refused(502, "IDP_METADATA_UNREACHABLE", str(error)) from error
    if len(body) > MAX_METADATA_BYTES:
        raise Refused(502, "IDP_METADATA_TOO_LARGE")
    return body.decode("utf-8")


# ---------------------------------------------------------------------------------------------
# The service provider


class ServiceProvider:
    """The SP's state: the pysaml2 client, its outstanding requests and its sessions.

    The state is server-side, keyed by request ID and by an SP cookie, because the Response
    POST from Portner is cross-site and carries no SameSite=Lax cookie (7.4). A request ID
    leaves `outstanding` when its Response is accepted, so a replay is unsolicited (A6/A16).
    The wsgiref server handles one request at a time, so the state needs no lock.
    """

    def __init__(self, base_url, settings, idp_metadata_url):
        self.base_url = base_url
        self.cookie = "portner_e2e_sp_" + base_url.rsplit(":", 1)[1]
        self.settings = settings
        self.idp_metadata_url = idp_metadata_url
        self.client = None
        self.outstanding = {}
        self.sessions = {}
        self.logged_out_by_idp = []

    def saml_client(self):
        """The pysaml2 client, built when Portner's metadata is first needed."""
        if self.client is None:
            metadata = fetch(self.idp_metadata_url)
            config = SPConfig()
            config.load({**self.settings, "metadata": {"inline": [metadata]}})
            self.client = Saml2Client(config)
        return self.client

    def idp_entity_id(self):
        entity_ids = list(self.saml_client().metadata.identity_providers())
        if len(entity_ids) != 1:
            raise Refused(502, "IDP_METADATA", f"{len(entity_ids)} identity providers")
        return entity_ids[0]

    def login(self, query):
        """Starts SP-initiated SSO; returns (status, headers, body)."""
        binding = {"redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}.get(
            query.get("binding", "redirect")
        )
        sigalg = SIGNATURE_ALGORITHMS.get(query.get("sigalg", "sha256"))
        relay_state = query.get("relay", "")
        if binding is None or sigalg is None:
            raise Refused(400, "BAD_PARAMETER", "binding or sigalg")
        if len(relay_state.encode("utf-8")) > MAX_RELAY_STATE_BYTES:
            raise Refused(400, "RELAYSTATE_TOO_LONG")

        extra = {}
        if "loa" in query:
            # AC-1: the level as OIOSAML SPs ask for it, Comparison="minimum".
            extra["requested_authn_context"] = RequestedAuthnContext(
                authn_context_class_ref=[AuthnContextClassRef(LOA_PREFIX + query["loa"])],
                comparison="minimum",
            )
        if query.get("force") == "1":
            extra["force_authn"] = "true"
        if query.get("passive") == "1":
            extra["is_passive"] = "true"
        client = self.saml_client()
        request_id, info = client.prepare_for_authenticate(
            entityid=self.idp_entity_id(),
            relay_state=relay_state,
            binding=binding,
            sign=True,
            sigalg=sigalg,
            digest_alg=DIGEST_SHA256,
            **extra,
        )
        self.outstanding[request_id] = f"{self.base_url}/login"

        if binding == BINDING_HTTP_REDIRECT:
            location = dict(info["headers"])["Location"]
            return "303 See Other", [("Location", location)], b""
        return "200 OK", [("Content-Type", "text/html; charset=utf-8")], info["data"].encode()

    def acs(self, form):
        """Consumes a Response; returns the result and a new SP session cookie value."""
        saml_response = form.get("SAMLResponse")
        if not saml_response:
            raise Refused(400, "NO_SAMLRESPONSE")
        shape = response_shape(saml_response)
        encrypted_only = shape["assertions"] == 0 and shape["encrypted_assertions"] == 1
        if shape["status"] == STATUS_SUCCESS and not encrypted_only:
            # RS-1: exactly one EncryptedAssertion and no plain Assertion. An error Response
            # carries none; pysaml2 checks it and raises its status below.
            raise Refused(400, "NOT_ONE_ENCRYPTED_ASSERTION", json.dumps(shape))

        client = self.saml_client()
        response = client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding=self.outstanding
        )
        if response is None:
            raise Refused(400, "UNPARSABLE_RESPONSE")
        # One Response per request: the ID is spent (pysaml2 then calls a replay unsolicited).
        self.outstanding.pop(response.in_response_to, None)

        session_info = response.session_info()
        if not client.users.get_identity(session_info["name_id"])[0]:
            # pysaml2 caches only unencrypted assertions itself; SLO needs the subject cached.
            client.users.add_information_about_person(session_info)
        session = secrets.token_urlsafe(24)
        self.sessions[session] = session_info["name_id"]
        return result_of(response, session_info, form.get("RelayState"), shape), session

    def logout(self, session):
        """Starts SP-initiated single logout over Redirect for the session's subject."""
        name_id = self.sessions.get(session)
        if name_id is None:
            raise Refused(400, "NO_SP_SESSION")
        client = self.saml_client()
        try:
            responses = client.global_logout(
                name_id, reason="urn:oasis:names:tc:SAML:2.0:logout:user", sign=True,
                sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256,
            )
        except Exception as error:  # pysaml2 raises LogoutError when the IdP has no SLO.
            raise Refused(502, "IDP_HAS_NO_SLO", f"{type(error).__name__}: {error}") from error
        bindings = list(responses.values())
        if len(bindings) != 1 or bindings[0][0] != BINDING_HTTP_REDIRECT:
            raise Refused(502, "IDP_HAS_NO_REDIRECT_SLO", repr(bindings))
        location = dict(bindings[0][1]["headers"])["Location"]
        return location

    def session(self, session):
        """Whether the browser's SP session is alive, and the subject's NameID."""
        name_id = self.sessions.get(session)
        logged_out_by_idp = list(self.logged_out_by_idp)
        signed_in = name_id is not None and self.saml_client().is_logged_in(name_id)
        return {
            "signed_in": signed_in,
            "name_id": name_id.text if signed_in else None,
            "logged_out_by_idp": logged_out_by_idp,
        }

    def logout_response(self, raw_query, query, session):
        """Consumes the LogoutResponse to our `/logout`; its signature is required (A17)."""
        client = self.saml_client()
        verify_redirect_signature(raw_query, "SAMLResponse", self.idp_signing_certificates())
        response = client.parse_logout_request_response(
            query["SAMLResponse"], BINDING_HTTP_REDIRECT
        )
        if response is None:
            raise Refused(400, "UNPARSABLE_LOGOUT_RESPONSE")
        status = response.response.status.status_code.value
        second_level = response.response.status.status_code.status_code
        if response.in_response_to not in client.state:
            raise Refused(400, "UNSOLICITED_LOGOUT_RESPONSE")
        if status != STATUS_SUCCESS:
            raise Refused(400, "LOGOUT_FAILED", status)
        client.handle_logout_response(response)
        name_id = self.sessions.pop(session, None)
        return {
            "logout": "success",
            "status": status,
            "second_level_status": second_level.value if second_level else None,
            "in_response_to": response.in_response_to,
            "issuer": response.issuer(),
            "subject_still_cached": bool(name_id and client.is_logged_in(name_id)),
        }

    def logout_request(self, binding, raw_query, message):
        """Answers a LogoutRequest that Portner passes on from another SP (SL-2).

        pysaml2 checks no signature on a Redirect LogoutRequest and only an existing one on a
        POST, so the SP demands one itself. Returns (status, headers, body) for the answer.
        """
        client = self.saml_client()
        if binding == BINDING_HTTP_REDIRECT:
            verify_redirect_signature(raw_query, "SAMLRequest", self.idp_signing_certificates())
        elif not message_is_signed(message["SAMLRequest"]):
            raise Refused(400, "LOGOUT_REQUEST_UNSIGNED")
        request = client.parse_logout_request(message["SAMLRequest"], binding)
        if request is None:
            raise Refused(400, "UNPARSABLE_LOGOUT_REQUEST")
        name_id = request.message.name_id
        self.logged_out_by_idp.append(name_id.text)
        for key in [key for key, value in self.sessions.items() if value == name_id]:
            del self.sessions[key]

        info = client.handle_logout_request(
            message["SAMLRequest"], name_id, binding, sign=True, sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256, relay_state=message.get("RelayState"),
        )
        if info.get("method") == "GET" or "Location" in dict(info.get("headers", [])):
            return "303 See Other", [("Location", dict(info["headers"])["Location"])], b""
        return "200 OK", [("Content-Type", "text/html; charset=utf-8")], info["data"].encode()

    def idp_signing_certificates(self):
        client = self.saml_client()
        certificates = client.metadata.certs(self.idp_entity_id(), "idpsso", use="signing")
        return [certificate for _, certificate in certificates]


def response_shape(saml_response):
    """Counts the Response's assertions with a DTD-refusing parser, before pysaml2 runs."""
    try:
        document = base64.b64decode(saml_response, validate=True)
        root = ElementTree.fromstring(document, forbid_dtd=True)
    except Exception as error:
        raise Refused(400, "MALFORMED_RESPONSE", type(error).__name__) from error
    if root.tag != f"{{{PROTOCOL_NS}}}Response":
        raise Refused(400, "NOT_A_RESPONSE")
    status = root.find(f"{{{PROTOCOL_NS}}}Status/{{{PROTOCOL_NS}}}StatusCode")
    return {
        "status": None if status is None else status.get("Value"),
        "assertions": len(root.findall(f"{{{ASSERTION_NS}}}Assertion")),
        "encrypted_assertions": len(root.findall(f"{{{ASSERTION_NS}}}EncryptedAssertion")),
        "response_signed": root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None,
    }


def result_of(response, session_info, relay_state, shape):
    """What the test checks: who signed in, with what, and the RelayState as received."""
    name_id = session_info["name_id"]
    authn = [
        {"class_ref": class_ref, "instant": instant}
        for class_ref, _authorities, instant in session_info.get("authn_info", [])
    ]
    return {
        "result": "signed in",
        "issuer": session_info["issuer"],
        "in_response_to": response.in_response_to,
        "name_id": {"format": name_id.format, "value": name_id.text},
        "session_index": session_info.get("session_index"),
        "authn": authn,
        "attributes": session_info["ava"],
        "relay_state": relay_state,
        "shape": shape,
    }


def verify_redirect_signature(raw_query, message_name, certificates):
    """Checks a Redirect-binding signature over the query bytes as received (Bindings 3.4.4.1).

    pysaml2 does not check the signature of Redirect logout messages, and its own helper
    re-encodes the parameters, so the SP checks it here: RSA-SHA256 only, with a key from
    Portner's metadata only.
    """
    pairs = [pair.split("=", 1) for pair in raw_query.split("&") if pair]
    raw = {}
    for pair in pairs:
        if len(pair) != 2 or pair[0] in raw:
            raise Refused(400, "AMBIGUOUS_QUERY")
        raw[pair[0]] = pair[1]
    if "Signature" not in raw or "SigAlg" not in raw:
        raise Refused(400, "LOGOUT_MESSAGE_UNSIGNED")
    if urllib.parse.unquote(raw["SigAlg"]) != SIG_RSA_SHA256:
        raise Refused(400, "LOGOUT_MESSAGE_SIGALG")
    signed = "&".join(
        f"{name}={raw[name]}" for name in (message_name, "RelayState", "SigAlg") if name in raw
    )
    signature = base64.b64decode(urllib.parse.unquote(raw["Signature"]))
    for certificate in certificates:
        key = x509.load_der_x509_certificate(base64.b64decode(certificate)).public_key()
        try:
            key.verify(signature, signed.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
            return
        except InvalidSignature:
            continue
    raise Refused(400, "LOGOUT_MESSAGE_SIGNATURE_INVALID")


def message_is_signed(message):
    """Whether a POSTed message's root carries a signature for pysaml2 to verify."""
    try:
        root = ElementTree.fromstring(base64.b64decode(message, validate=False), forbid_dtd=True)
    except Exception as error:
        raise Refused(400, "MALFORMED_MESSAGE", type(error).__name__) from error
    return root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None


# ---------------------------------------------------------------------------------------------
# WSGI


def page(status, element_id, value, headers=()):
    body = (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Portner e2e SP</title></head><body><pre id=\"{element_id}\">"
        f"{html.escape(json.dumps(value, indent=1, sort_keys=True, default=str))}"
        "</pre></body></html>"
    )
    return status, [("Content-Type", "text/html; charset=utf-8"), *headers], body.encode()


def read_form(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError as error:
        raise Refused(400, "BAD_LENGTH") from error
    if length > MAX_BODY_BYTES:
        raise Refused(413, "BODY_TOO_LARGE")
    body = environ["wsgi.input"].read(length).decode("ascii", errors="strict")
    return single_values(urllib.parse.parse_qs(body, strict_parsing=False))


def single_values(parsed):
    """Refuses repeated parameters instead of choosing one of them."""
    if any(len(values) != 1 for values in parsed.values()):
        raise Refused(400, "REPEATED_PARAMETER")
    return {name: values[0] for name, values in parsed.items()}


def session_of(sp, environ):
    cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    return cookie[sp.cookie].value if sp.cookie in cookie else None


def application(sp):
    def app(environ, start_response):
        try:
            status, headers, body = route(sp, environ)
        except Refused as refused:
            error = {"error": refused.code, "detail": refused.detail}
            status, headers, body = page(f"{refused.status} Refused", "error", error)
        except Exception as error:  # pysaml2's refusals: signature, unsolicited, time, audience.
            detail = {"error": type(error).__name__, "detail": str(error)[:500]}
            status, headers, body = page("400 Bad Request", "error", detail)
        start_response(status, [*headers, ("Cache-Control", "no-store")])
        return [body]

    return app


def route(sp, environ):
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "")
    raw_query = environ.get("QUERY_STRING", "")
    if len(raw_query) > MAX_QUERY_BYTES:
        raise Refused(414, "QUERY_TOO_LONG")
    query = single_values(urllib.parse.parse_qs(raw_query))

    if (method, path) == ("GET", "/metadata"):
        body = sp_metadata(sp.settings).encode()
        return "200 OK", [("Content-Type", "application/samlmetadata+xml")], body
    if (method, path) == ("GET", "/login"):
        return sp.login(query)
    session = session_of(sp, environ)
    if (method, path) == ("POST", "/acs"):
        result, session = sp.acs(read_form(environ))
        cookie = f"{sp.cookie}={session}; Path=/; HttpOnly; SameSite=Lax"
        return page("200 OK", "result", result, [("Set-Cookie", cookie)])
    if (method, path) == ("GET", "/session"):
        return page("200 OK", "result", sp.session(session))
    if (method, path) == ("GET", "/logout"):
        return "303 See Other", [("Location", sp.logout(session))], b""
    if (method, path) == ("GET", "/slo") and "SAMLResponse" in query:
        return page("200 OK", "result", sp.logout_response(raw_query, query, session))
    if (method, path) == ("GET", "/slo") and "SAMLRequest" in query:
        return sp.logout_request(BINDING_HTTP_REDIRECT, raw_query, query)
    if (method, path) == ("POST", "/slo"):
        form = read_form(environ)
        if "SAMLRequest" not in form:
            raise Refused(400, "NO_SAMLREQUEST")
        return sp.logout_request(BINDING_HTTP_POST, "", form)
    raise Refused(404, "NOT_FOUND", f"{method} {path}")


class QuietHandler(WSGIRequestHandler):
    """Logs method, path and status only: queries carry whole SAML messages."""

    def log_request(self, code="-", size="-"):
        path = self.path.split("?", 1)[0]
        port = self.server.server_address[1]
        sys.stderr.write(f"sp {port}: {self.command} {path} {code}\n")


def main():
    usage = "usage: sp.py PORT STATE_DIR IDP_METADATA_URL [XMLSEC1 [SLO_BINDINGS]]"
    if len(sys.argv) not in (4, 5, 6):
        sys.exit(usage)
    port = int(sys.argv[1])
    state = Path(sys.argv[2])
    xmlsec1 = sys.argv[4] if len(sys.argv) >= 5 else "/usr/bin/xmlsec1"
    slo_bindings = sys.argv[5] if len(sys.argv) == 6 else "both"
    if slo_bindings not in ("both", "post"):
        sys.exit(usage)
    state.mkdir(parents=True, exist_ok=True)
    base_url = f"http://127.0.0.1:{port}"

    signing = generate_key_pair(state, "signing")
    encryption = generate_key_pair(state, "encryption")
    settings = sp_settings(base_url, signing, encryption, xmlsec1, slo_bindings=slo_bindings)
    (state / "sp-metadata.xml").write_text(sp_metadata(settings), encoding="utf-8")

    sp = ServiceProvider(base_url, settings, sys.argv[3])
    server = make_server("127.0.0.1", port, application(sp), handler_class=QuietHandler)
    print(f"sp listening on {base_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
