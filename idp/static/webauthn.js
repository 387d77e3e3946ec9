// Portner's only script: runs the WebAuthn call the server prepared, then submits the result.
// The options come from a JSON data block on the page; the response goes back as JSON in a
// hidden form field, in the shape webauthn-rs reads (binary fields as base64url).
"use strict";

(function () {
  const optionsElement = document.getElementById("webauthn-options");
  const form = document.getElementById("webauthn-form");
  const button = document.getElementById("webauthn-start");
  const errorElement = document.getElementById("webauthn-error");
  if (!optionsElement || !form || !button) {
    return;
  }
  const mode = optionsElement.dataset.mode;
  const options = JSON.parse(optionsElement.textContent).publicKey;

  function fromBase64Url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    const binary = atob(padded);
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  }

  function toBase64Url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    bytes.forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeCredentialList(list) {
    return (list || []).map((item) => Object.assign({}, item, { id: fromBase64Url(item.id) }));
  }

  async function register() {
    const publicKey = Object.assign({}, options, {
      challenge: fromBase64Url(options.challenge),
      user: Object.assign({}, options.user, { id: fromBase64Url(options.user.id) }),
      excludeCredentials: decodeCredentialList(options.excludeCredentials),
    });
    const credential = await navigator.credentials.create({ publicKey });
    return {
      id: credential.id,
      rawId: toBase64Url(credential.rawId),
      type: credential.type,
      extensions: {},
      response: {
        attestationObject: toBase64Url(credential.response.attestationObject),
        clientDataJSON: toBase64Url(credential.response.clientDataJSON),
      },
    };
  }

  async function authenticate() {
    const publicKey = Object.assign({}, options, {
      challenge: fromBase64Url(options.challenge),
      allowCredentials: decodeCredentialList(options.allowCredentials),
    });
    const credential = await navigator.credentials.get({ publicKey });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64Url(credential.rawId),
      type: credential.type,
      extensions: {},
      response: {
        authenticatorData: toBase64Url(response.authenticatorData),
        clientDataJSON: toBase64Url(response.clientDataJSON),
        signature: toBase64Url(response.signature),
        userHandle: response.userHandle ? toBase64Url(response.userHandle) : null,
      },
    };
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const result = mode === "create" ? await register() : await authenticate();
      document.getElementById("webauthn-credential").value = JSON.stringify(result);
      form.submit();
    } catch (error) {
      errorElement.textContent = String(error && error.message ? error.message : error);
      errorElement.hidden = false;
      button.disabled = false;
    }
  });
})();
