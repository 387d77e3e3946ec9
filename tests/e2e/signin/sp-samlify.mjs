// samlify as a strict SP for Portner's attack A15 test (security-tests.md A15, 7.3), driven by
// tests/tests/integration/sp_libraries.rs over the line protocol of sp-driver.mjs:
//
//   node sp-samlify.mjs BASE_URL SP_KEY_PEM SP_CERT_PEM IDP_METADATA_XML
//   {"command": "login", "relay_state": "..."} -> {"url": ..., "request_id": ...}
//   {"command": "acs", "SAMLResponse": ..., "RelayState": ...}
//       -> {"accepted": true, "name_id": ..., "attributes": {...}, ...}
//        | {"accepted": false, "refused_by": "library" | "driver", "reason": ...}
//
// samlify reads Portner's metadata itself and validates every message against the SAML
// schemas with a real validator (@authenio/samlify-node-xmllint, libxml2 compiled to WASM);
// it requires signed AuthnRequests to agree with the IdP's WantAuthnRequestsSigned, signed
// and encrypted assertions, and the times. It does not match InResponseTo itself (7.3): this
// driver keeps the open request's ID, as an application keeps it in its session, and refuses
// any other answer (`"refused_by": "driver"`). samlify decrypts through xml-encryption 3.1.0
// (no `xmlenc11#rsa-oaep`), and its schema set has no XML Encryption 1.1 schema for the MGF
// element either: Portner encrypts for it with the legacy pair.

import * as samlify from 'samlify';
import * as validator from '@authenio/samlify-node-xmllint';
import { attributeLists, serve, spFiles } from './sp-driver.mjs';

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

samlify.setSchemaValidator(validator);

const files = spFiles('sp-samlify.mjs');
const idp = samlify.IdentityProvider({
  metadata: files.idpMetadata,
  // Read by samlify from the IdP's settings: assertions from this IdP must be encrypted.
  isAssertionEncrypted: true,
});
const sp = samlify.ServiceProvider({
  entityID: files.entityId,
  assertionConsumerService: [{ Binding: POST, Location: files.acsUrl }],
  authnRequestsSigned: true,
  wantAssertionsSigned: true,
  // RS-2: Portner signs the assertion; the Response itself only for SPs that ask.
  wantMessageSigned: false,
  isAssertionEncrypted: true,
  requestSignatureAlgorithm: RSA_SHA256,
  signingCert: files.cert,
  privateKey: files.key,
  encryptCert: files.cert,
  encPrivateKey: files.key,
  nameIDFormat: [PERSISTENT],
  clockDrifts: [0, 0],
});

// The open request of this SP's one browser session.
let pending = null;

await serve(sp.getMetadata(), {
  login(message) {
    const { id, context } = sp.createLoginRequest(idp, 'redirect', {
      relayState: message.relay_state ?? '',
    });
    pending = id;
    return { url: context, request_id: id };
  },
  async acs(message) {
    const body = { SAMLResponse: message.SAMLResponse };
    if (message.RelayState != null) body.RelayState = message.RelayState;
    let parsed;
    // The validator prints its schema errors instead of returning them; keep them for the
    // answer, so a refusal says which element the schema objected to.
    const printed = [];
    const printError = console.error;
    console.error = (...args) => printed.push(args.map(String).join(' '));
    try {
      parsed = await sp.parseLoginResponse(idp, 'post', { body });
    } catch (error) {
      const reason = String(error.message || error);
      return { accepted: false, refused_by: 'library', reason, validator_errors: printed };
    } finally {
      console.error = printError;
    }
    const { extract, samlContent } = parsed;
    const inResponseTo = extract.response && extract.response.inResponseTo;
    if (pending === null || inResponseTo !== pending) {
      return {
        accepted: false,
        refused_by: 'driver',
        reason: `InResponseTo ${inResponseTo} does not answer the open request ${pending}`,
      };
    }
    pending = null;
    return {
      accepted: true,
      in_response_to: inResponseTo,
      name_id: extract.nameID,
      name_id_format: nameIdFormat(samlContent),
      session_index: extract.sessionIndex && extract.sessionIndex.sessionIndex,
      audience: extract.audience,
      attributes: attributeLists(extract.attributes),
      relay_state: body.RelayState ?? null,
    };
  },
});

/** The NameID's Format in the verified, decrypted assertion (samlify extracts only the value). */
function nameIdFormat(xml) {
  const nameId = xml.match(/<(?:\w+:)?NameID\b[^>]*>/);
  const format = nameId && nameId[0].match(/\sFormat="([^"]+)"/);
  return format ? format[1] : null;
}
