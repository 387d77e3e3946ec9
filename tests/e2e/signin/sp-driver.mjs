// What the A15 SP drivers (sp-node-saml.mjs, sp-samlify.mjs) share: the line protocol with
// tests/tests/integration/sp_libraries.rs, the SP's files, and a normal form for attributes.
//
// The test writes one JSON object a line on standard input; each answer is one line starting
// with `portner-sp: `, so that anything else a library prints cannot pass for one. The first
// answer, unasked, is `{"metadata": ...}`: the SP metadata the library generates itself.

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { inflateRawSync } from 'node:zlib';

/** Reads `BASE_URL SP_KEY_PEM SP_CERT_PEM IDP_METADATA_XML` from the command line. */
export function spFiles(script) {
  const args = process.argv.slice(2);
  if (args.length !== 4) {
    console.error(`usage: node ${script} BASE_URL SP_KEY_PEM SP_CERT_PEM IDP_METADATA_XML`);
    process.exit(2);
  }
  const [baseUrl, keyPath, certPath, metadataPath] = args;
  return {
    baseUrl,
    entityId: `${baseUrl}/metadata`,
    acsUrl: `${baseUrl}/acs`,
    key: readFileSync(keyPath, 'utf8'),
    cert: readFileSync(certPath, 'utf8'),
    idpMetadata: readFileSync(metadataPath, 'utf8'),
  };
}

export function answer(value) {
  process.stdout.write(`portner-sp: ${JSON.stringify(value)}\n`);
}

/**
 * Answers each command with `handlers[command](message)`; a thrown error becomes
 * `{"error": ...}`, which fails the test (a refusal is an answer, not an error).
 */
export async function serve(metadata, handlers) {
  answer({ metadata });
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    const message = JSON.parse(line);
    const handler = handlers[message.command];
    try {
      if (!handler) throw new Error(`unknown command ${message.command}`);
      answer(await handler(message));
    } catch (error) {
      answer({ error: String(error && error.stack ? error.stack : error) });
    }
  }
}

/** The ID of the AuthnRequest in a Redirect-binding URL, read back from the URL itself. */
export function redirectRequestId(url) {
  const message = new URL(url).searchParams.get('SAMLRequest');
  const xml = inflateRawSync(Buffer.from(message, 'base64')).toString('utf8');
  const root = xml.match(/<(?:\w+:)?AuthnRequest\b[^>]*>/);
  const id = root && root[0].match(/\sID="([^"]+)"/);
  if (!id) throw new Error(`no AuthnRequest ID in ${xml}`);
  return id[1];
}

/** Attribute values as lists, whatever shape the library returns them in. */
export function attributeLists(attributes) {
  const lists = {};
  for (const [name, value] of Object.entries(attributes || {})) {
    lists[name] = (Array.isArray(value) ? value : [value]).map(String);
  }
  return lists;
}
