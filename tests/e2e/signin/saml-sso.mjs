// Real-browser SAML end-to-end run for Portner (issue 4), driven by idp/tests/saml_e2e.rs.
//
// A pysaml2 service provider (tests/e2e/saml/sp.py) signs an employee in through Portner in
// Debian's Chromium, whose CDP virtual authenticator answers Portner's own WebAuthn script.
// The script records what happened in each flow and prints one JSON report; the Rust test
// asserts on it. Flows, in order:
//   sha1      a request signed with RSA-SHA1 is refused by Portner before sign-in (A12)
//   activate  the user activates with the one-time code, then signs out
//   redirect  SP-initiated login over HTTP-Redirect: password page, key, Response to the ACS
//   replay    the captured SAMLResponse POSTed again: the SP must refuse it (A6, 6.8.3)
//   sso       a second SP-initiated login in the same session: no password page (issue 4 §5)
//   post      SP-initiated login over HTTP-POST, also without a password page (SS-4)
//   slo       SP-initiated single logout over Redirect, answered with a LogoutResponse
//   after_slo the next login asks for the password again (the session really ended)
// Each flow is recorded even when it fails, so one missing feature does not hide the others.
//
// Usage: node saml-sso.mjs IDP_URL SP_URL USERNAME CODE PASSWORD

import { chromium } from "playwright-core";

const [idpUrl, spUrl, username, code, password] = process.argv.slice(2);
if (!idpUrl || !spUrl || !username || !code || !password) {
  console.error("usage: node saml-sso.mjs IDP_URL SP_URL USERNAME CODE PASSWORD");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const TIMEOUT = 20000;

// A RelayState an SP might send, with characters that need escaping in a URL and in HTML;
// it must come back byte for byte (A5, RS-13).
const RELAY_STATES = {
  redirect: 'e2e/redirect?a=1&b="two" <three> æøå %2f',
  sso: "e2e-sso",
  post: "e2e/post?c=3&d=<four>",
};

const report = { relay_states: RELAY_STATES, flows: {} };
// The first Response POST body seen per binding; kept out of the printed report.
const captured = {};

function log(message) {
  console.error(`saml-sso: ${message}`);
}

/** Every main-frame navigation URL (redirect hops included), for the flow being run. */
function recordNavigations(page) {
  const urls = [];
  page.on("request", (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      urls.push(request.url());
    }
  });
  return urls;
}

const ssoUrl = `${idpUrl}/saml/sso`;

function isPortnerLogin(url) {
  return url.startsWith(`${idpUrl}/login`);
}

/** Reads the SP's JSON page: `#result` on success, `#error` on refusal. */
async function spPage(page) {
  const result = await page.$("#result");
  const error = await page.$("#error");
  const element = result || error;
  if (!element) {
    return { page: (await page.content()).slice(0, 500) };
  }
  return JSON.parse(await element.textContent());
}

/** Runs `action` and waits for the Response POST to land at the SP's ACS. */
async function landAtAcs(page, action) {
  const acs = page.waitForResponse(
    (response) => response.url() === `${spUrl}/acs` && response.request().method() === "POST",
    { timeout: TIMEOUT },
  );
  // If the action fails first, its error is the one reported; this one must not go unhandled.
  acs.catch(() => {});
  await action();
  const response = await acs;
  await page.waitForLoadState("load");
  return {
    status: response.status(),
    form: response.request().postData(),
    sp: await spPage(page),
  };
}

async function signInWithPasswordAndKey(page) {
  await page.waitForURL(isPortnerLogin, { timeout: TIMEOUT });
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("button[type=submit]");
  await page.click("#webauthn-start");
}

let previousFailed = false;

async function flow(page, name, body) {
  log(name);
  if (previousFailed) {
    // Stop whatever the failed flow left loading, so it cannot interrupt this one.
    await page.goto("about:blank").catch(() => {});
  }
  try {
    report.flows[name] = await body();
    previousFailed = false;
  } catch (error) {
    report.flows[name] = { error: String(error) };
    previousFailed = true;
  }
}

/** An SP-initiated login; `signIn` says whether Portner's password page is expected. */
async function login(page, navigations, binding, relay, signIn, extra = "") {
  navigations.length = 0;
  const query = `binding=${binding}&relay=${encodeURIComponent(relay)}${extra}`;
  const landed = await landAtAcs(page, async () => {
    await page.goto(`${spUrl}/login?${query}`);
    if (signIn) {
      await signInWithPasswordAndKey(page);
    }
  });
  captured[binding] = captured[binding] || landed.form;
  return {
    status: landed.status,
    sp: landed.sp,
    password_page: navigations.some(isPortnerLogin),
    navigations: navigations.map((url) => url.split("?")[0]),
  };
}

async function run(page, cdp, authenticatorId, navigations) {
  await flow(page, "sha1", async () => {
    // Portner refuses SHA-1 unless the SP is configured for it (A12, CR-7): an error page at
    // Portner, and nothing POSTed to the SP.
    navigations.length = 0;
    const refusal = page.waitForResponse((response) => response.url().startsWith(ssoUrl), {
      timeout: TIMEOUT,
    });
    refusal.catch(() => {});
    // Chromium fails `goto` on an error status with an empty body; the status is what counts.
    await page.goto(`${spUrl}/login?binding=redirect&sigalg=sha1`).catch(() => {});
    const response = await refusal;
    return {
      status: response.status(),
      reached_acs: navigations.some((url) => url.startsWith(`${spUrl}/acs`)),
    };
  });

  await flow(page, "activate", async () => {
    await page.goto(`${idpUrl}/activate`);
    await page.fill("#username", username);
    await page.fill("#code", code);
    await page.fill("#new_password", password);
    await page.click("button[type=submit]");
    await page.click("#webauthn-start");
    await page.waitForURL(`${idpUrl}/account`, { timeout: TIMEOUT });
    await page.click("#sign-out");
    await page.waitForURL(`${idpUrl}/login`, { timeout: TIMEOUT });
    return { activated: true };
  });

  await flow(page, "redirect", () =>
    login(page, navigations, "redirect", RELAY_STATES.redirect, true),
  );

  await flow(page, "replay", async () => {
    const form = captured.redirect;
    if (!form) {
      throw new Error("no Response was captured in the redirect flow");
    }
    // Sent from the SP's own page, so it is the same browser and origin that first used it.
    return page.evaluate(
      async ({ url, body }) => {
        const response = await fetch(url, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body,
        });
        return { status: response.status, body: await response.text() };
      },
      { url: `${spUrl}/acs`, body: form },
    );
  });

  await flow(page, "sso", () => login(page, navigations, "redirect", RELAY_STATES.sso, false));
  await flow(page, "post", () =>
    login(page, navigations, "post", RELAY_STATES.post, false, "&loa=Substantial"),
  );

  await flow(page, "slo", async () => {
    navigations.length = 0;
    const response = await page.goto(`${spUrl}/logout`);
    return {
      status: response.status(),
      url: response.url().split("?")[0],
      sp: await spPage(page),
      navigations: [...navigations].map((url) => url.split("?")[0]),
    };
  });

  await flow(page, "after_slo", async () => {
    // Only meaningful when SLO succeeded: a live session would skip the password page.
    navigations.length = 0;
    await page.goto(`${spUrl}/login?binding=redirect&relay=after-slo`);
    await page.waitForLoadState("load");
    return { url: page.url().split("?")[0], password_page: isPortnerLogin(page.url()) };
  });

  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  report.credentials = credentials.map((credential) => ({ signCount: credential.signCount }));
}

async function main() {
  const browser = await chromium.launch({ executablePath, headless: true });
  try {
    const context = await browser.newContext({ locale: "en-GB" });
    const page = await context.newPage();
    const navigations = recordNavigations(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "usb",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await run(page, cdp, authenticatorId, navigations);
  } finally {
    await browser.close();
  }
}

main()
  .then(() => {
    console.log(JSON.stringify({ result: "completed", ...report }));
  })
  .catch((error) => {
    console.log(JSON.stringify({ result: "crashed", error: String(error), ...report }));
    process.exit(1);
  });
