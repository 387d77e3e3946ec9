// @node-saml/node-saml (the engine of passport-saml) as a strict SP for Portner's attack A15
// test (security-tests.md A15, 7.3), driven by tests/tests/integration/sp_libraries.rs over
// the line protocol of sp-driver.mjs:
//
//   node sp-node-saml.mjs BASE_URL SP_KEY_PEM SP_CERT_PEM IDP_METADATA_XML
//   {"command": "login", "relay_state": "..."} -> {"url": ..., "request_id": ...}
//   {"command": "acs", "SAMLResponse": ..., "RelayState": ...}
//       -> {"accepted": true, "name_id": ..., "attributes": {...}, ...}
//        | {"accepted": false, "refused_by": "library", "reason": "<node-saml's error>"}
//
// Strictest mode: `validateInResponseTo: 'always'` with node-saml's own in-memory request
// cache (so this process lives from the request to the response), `wantAssertionsSigned` and
// `wantAuthnResponseSigned` (Portner signs the Response too for this SP), the audience, and
// no clock skew allowed. node-saml decrypts through xml-encryption 3.1.0, which knows
// `rsa-oaep-mgf1p` but not `xmlenc11#rsa-oaep`: Portner encrypts for it with the legacy pair.

import { SAML } from '@node-saml/node-saml';
import { answer, attributeLists, redirectRequestId, serve, spFiles } from './sp-driver.mjs';

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const SUBSTANTIAL = 'https://data.gov.dk/concept/core/nsis/loa/Substantial';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

const sp = spFiles('sp-node-saml.mjs');
const idp = idpFromMetadata(sp.idpMetadata);

const saml = new SAML({
  entryPoint: idp.redirectSso,
  issuer: sp.entityId,
  audience: sp.entityId,
  callbackUrl: sp.acsUrl,
  idpCert: idp.signingCerts,
  privateKey: sp.key,
  publicCert: sp.cert,
  decryptionPvk: sp.key,
  signatureAlgorithm: 'sha256',
  digestAlgorithm: 'sha256',
  identifierFormat: PERSISTENT,
  authnContext: [SUBSTANTIAL],
  racComparison: 'minimum',
  wantAssertionsSigned: true,
  wantAuthnResponseSigned: true,
  validateInResponseTo: 'always',
  acceptedClockSkewMs: 0,
});

await serve(saml.generateServiceProviderMetadata(sp.cert, sp.cert), {
  async login(message) {
    const url = await saml.getAuthorizeUrlAsync(message.relay_state, undefined, {});
    return { url, request_id: redirectRequestId(url) };
  },
  async acs(message) {
    const form = { SAMLResponse: message.SAMLResponse };
    if (message.RelayState != null) form.RelayState = message.RelayState;
    let result;
    try {
      result = await saml.validatePostResponseAsync(form);
    } catch (error) {
      return { accepted: false, refused_by: 'library', reason: String(error.message || error) };
    }
    const profile = result.profile;
    if (!profile) return { accepted: false, refused_by: 'library', reason: 'no profile' };
    return {
      accepted: true,
      in_response_to: profile.inResponseTo,
      name_id: profile.nameID,
      name_id_format: profile.nameIDFormat,
      session_index: profile.sessionIndex,
      attributes: attributeLists(profile.attributes),
      relay_state: form.RelayState ?? null,
    };
  },
});

/**
 * The IdP's signing certificates and Redirect SSO endpoint from Portner's metadata, which is
 * what node-saml is configured with (`idpCert`, `entryPoint`); node-saml reads no metadata.
 */
function idpFromMetadata(xml) {
  const signingCerts = [];
  const descriptors = xml.match(/<(\w+:)?KeyDescriptor\b[\s\S]*?<\/(\w+:)?KeyDescriptor>/g);
  for (const descriptor of descriptors || []) {
    const use = descriptor.match(/^<[^>]*\suse="([^"]+)"/);
    if (use && use[1] !== 'signing') continue;
    for (const cert of descriptor.matchAll(/<(?:\w+:)?X509Certificate>([^<]+)</g)) {
      signingCerts.push(cert[1].replace(/\s+/g, ''));
    }
  }
  let redirectSso;
  for (const tag of xml.match(/<(\w+:)?SingleSignOnService\b[^>]*>/g) || []) {
    const binding = tag.match(/\sBinding="([^"]+)"/);
    const location = tag.match(/\sLocation="([^"]+)"/);
    if (binding && location && binding[1] === REDIRECT) redirectSso = location[1];
  }
  if (!signingCerts.length || !redirectSso) {
    answer({ error: 'no signing certificate or Redirect SSO endpoint in the IdP metadata' });
    process.exit(1);
  }
  return { signingCerts, redirectSso };
}
