// Real-browser SAML end-to-end run for Portner (issue 4), driven by idp/tests/saml_e2e.rs.
//
// Two pysaml2 service providers (tests/e2e/saml/sp.py), A and B, sign an employee in through
// Portner in Debian's Chromium, whose CDP virtual authenticator answers Portner's own
// WebAuthn script. The script records what happened in each flow and prints one JSON report;
// the Rust test asserts on it. Flows, in order:
//   sha1      A's request signed with RSA-SHA1 is refused by Portner before sign-in (A12)
//   activate  the user activates with the one-time code, then signs out
//   redirect  login at A over HTTP-Redirect: password page, key, Response to A's ACS
//   replay    the captured SAMLResponse POSTed to A again: A must refuse it (A6, 6.8.3)
//   sso       login at B in the same session: no page at Portner (issue 4 §5)
//   post      login at A over HTTP-POST, again without a page (SS-4)
//   force     login at B with ForceAuthn: password and key again (AC-6)
//   slo       logout started at A over Redirect; Portner passes it on to B, which offers only
//             an HTTP-POST logout endpoint, by POST and takes B's answer by POST (SL-2, SL-3),
//             then answers A with a LogoutResponse over Redirect
//   sessions  what A and B know afterwards
//   passive   login at A with IsPassive and no session: a NoPassive error Response (AC-7)
//   after_slo the next login at B asks for the password again (the session really ended)
// Each flow is recorded even when it fails, so one missing feature does not hide the others.
//
// Usage: node saml-sso.mjs IDP_URL SP_A_URL SP_B_URL USERNAME CODE PASSWORD

import { chromium } from "playwright-core";

const [idpUrl, spA, spB, username, code, password] = process.argv.slice(2);
if (!idpUrl || !spA || !spB || !username || !code || !password) {
  console.error("usage: node saml-sso.mjs IDP_URL SP_A_URL SP_B_URL USERNAME CODE PASSWORD");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const TIMEOUT = 20000;
const ssoUrl = `${idpUrl}/saml/sso`;

// RelayStates with characters that need escaping in a URL and in HTML, one of them markup
// that breaks out of an unescaped form field; each must come back byte for byte (A5, RS-13).
const RELAY_STATES = {
  redirect: 'e2e/redirect?a=1&b="two" <three> æøå %2f',
  sso: "e2e-sso",
  post: 'e2e/post?c=3"><script>alert(1)</script>',
  force: "e2e-force",
  passive: "e2e-passive",
};

const report = { relay_states: RELAY_STATES, flows: {} };
// The Response POST body of the redirect flow, for the replay; kept out of the report.
let capturedResponse = null;

function log(message) {
  console.error(`saml-sso: ${message}`);
}

/** Every main-frame navigation URL (redirect hops included) of the flow being run. */
function recordNavigations(page) {
  const urls = [];
  page.on("request", (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      urls.push(request.url());
    }
  });
  return urls;
}

function withoutQuery(url) {
  return url.split("?")[0];
}

/** Takes a string or, from `waitForURL`, a URL object. */
function isPortnerLogin(url) {
  return String(url).startsWith(`${idpUrl}/login`);
}

/** Reads an SP's JSON page: `#result` on success, `#error` on refusal. */
async function spPage(page) {
  const element = (await page.$("#result")) || (await page.$("#error"));
  if (!element) {
    return { page: (await page.content()).slice(0, 500) };
  }
  return JSON.parse(await element.textContent());
}

/** Runs `action` and waits for the Response POST to land at `sp`'s ACS. */
async function landAtAcs(page, sp, action) {
  const acs = page.waitForResponse(
    (response) => response.url() === `${sp}/acs` && response.request().method() === "POST",
    { timeout: TIMEOUT },
  );
  // If the action fails first, its error is the one reported; this one must not go unhandled.
  acs.catch(() => {});
  await action();
  const response = await acs;
  await page.waitForLoadState("load");
  return { response, sp: await spPage(page) };
}

async function signInWithPasswordAndKey(page) {
  await page.waitForURL(isPortnerLogin, { timeout: TIMEOUT });
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("button[type=submit]");
  await page.click("#webauthn-start");
}

/** Leaves the page blank, so nothing an earlier flow left loading interrupts the next one. */
async function blank(page) {
  // A failed navigation (an error status with an empty body) commits Chromium's error page a
  // moment later; wait for it before leaving.
  await page.waitForLoadState("load").catch(() => {});
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const left = await page.goto("about:blank").then(
      () => true,
      () => false,
    );
    if (left && page.url() === "about:blank") {
      return;
    }
  }
}

async function flow(page, name, body) {
  log(name);
  await blank(page);
  try {
    report.flows[name] = await body();
  } catch (error) {
    report.flows[name] = { error: String(error) };
  }
}

/** An SP-initiated login at `sp`; `signIn` says whether Portner's password page is due. */
async function login(page, navigations, sp, binding, relay, signIn, extra = "") {
  navigations.length = 0;
  const query = `binding=${binding}&relay=${encodeURIComponent(relay)}${extra}`;
  const landed = await landAtAcs(page, sp, async () => {
    await page.goto(`${sp}/login?${query}`);
    if (signIn) {
      await signInWithPasswordAndKey(page);
    }
  });
  return {
    status: landed.response.status(),
    form: landed.response.request().postData(),
    sp: landed.sp,
    password_page: navigations.some(isPortnerLogin),
    navigations: navigations.map(withoutQuery),
  };
}

/** Loads an SP page and returns its JSON. */
async function spJson(page, url) {
  const response = await page.goto(url);
  return { status: response.status(), url: withoutQuery(response.url()), sp: await spPage(page) };
}

async function sha1Refused(page) {
  // Portner refuses SHA-1 unless the SP is configured for it (A12, CR-7): an error status at
  // Portner, no redirect anywhere and no echo of the request (RQ-8). Sent from Node rather
  // than the page, since only the answer matters and a failed page load would disturb the
  // flows after it.
  const marker = "echo-marker-7f3a";
  const sha1Login = `${spA}/login?binding=redirect&sigalg=sha1&relay=${marker}`;
  const start = await page.request.get(sha1Login, { maxRedirects: 0 });
  const location = start.headers()["location"] || "";
  if (!location.startsWith(`${ssoUrl}?`)) {
    throw new Error(`the SP did not redirect to Portner: ${start.status()} ${location}`);
  }
  const refusal = await page.request.get(location, { maxRedirects: 0 });
  const body = await refusal.text();
  return {
    status: refusal.status(),
    redirect: refusal.headers()["location"] || null,
    echoes_request: body.includes(marker) || body.includes("SAMLRequest"),
  };
}

async function activate(page) {
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
}

async function replay(page) {
  if (!capturedResponse) {
    throw new Error("no Response was captured in the redirect flow");
  }
  // Sent from A's own page, so it is the same browser and origin that first used it.
  await page.goto(`${spA}/session`);
  return page.evaluate(
    async ({ url, body }) => {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body,
      });
      return { status: response.status, body: await response.text() };
    },
    { url: `${spA}/acs`, body: capturedResponse },
  );
}

async function run(page, cdp, authenticatorId, navigations) {
  await flow(page, "sha1", () => sha1Refused(page));
  await flow(page, "activate", () => activate(page));

  await flow(page, "redirect", async () => {
    const result = await login(page, navigations, spA, "redirect", RELAY_STATES.redirect, true);
    capturedResponse = result.form;
    return result;
  });
  await flow(page, "replay", () => replay(page));
  await flow(page, "sso", () =>
    login(page, navigations, spB, "redirect", RELAY_STATES.sso, false),
  );
  await flow(page, "post", () =>
    login(page, navigations, spA, "post", RELAY_STATES.post, false, "&loa=Substantial"),
  );

  await flow(page, "force", () =>
    login(page, navigations, spB, "redirect", RELAY_STATES.force, true, "&force=1"),
  );

  await flow(page, "slo", async () => {
    navigations.length = 0;
    // B offers only an HTTP-POST logout endpoint, so the chain runs through auto-submitting
    // pages: wait for the LogoutResponse to land back at A, and record each hop's method.
    const hops = [];
    const hop = (request) => {
      if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
        hops.push(`${request.method()} ${withoutQuery(request.url())}`);
      }
    };
    page.on("request", hop);
    const answered = page.waitForResponse(
      (response) => withoutQuery(response.url()) === `${spA}/slo`,
      { timeout: TIMEOUT },
    );
    answered.catch(() => {});
    try {
      await page.goto(`${spA}/logout`);
      const response = await answered;
      // The response arrives before its document commits; waiting for the load state alone
      // can return for the auto-submitting page before it, and reading the page then races
      // the navigation. Wait until A's page itself has loaded.
      await page.waitForURL((url) => withoutQuery(url.toString()) === `${spA}/slo`, {
        waitUntil: "load",
        timeout: TIMEOUT,
      });
      return {
        status: response.status(),
        url: withoutQuery(response.url()),
        sp: await spPage(page),
        navigations: navigations.map(withoutQuery),
        hops,
      };
    } finally {
      page.off("request", hop);
    }
  });
  await flow(page, "sessions", async () => ({
    a: (await spJson(page, `${spA}/session`)).sp,
    b: (await spJson(page, `${spB}/session`)).sp,
  }));
  await flow(page, "passive", () =>
    login(page, navigations, spA, "redirect", RELAY_STATES.passive, false, "&passive=1"),
  );
  await flow(page, "after_slo", async () => {
    // A live session would skip the password page and land at B's ACS.
    await page.goto(`${spB}/login?binding=redirect&relay=after-slo`);
    await page.waitForLoadState("load");
    return { url: withoutQuery(page.url()), password_page: isPortnerLogin(page.url()) };
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

/** The report as printed: without the captured Responses. */
function printable(result) {
  for (const flowReport of Object.values(report.flows)) {
    delete flowReport.form;
  }
  return JSON.stringify({ ...result, ...report });
}

main()
  .then(() => {
    console.log(printable({ result: "completed" }));
  })
  .catch((error) => {
    console.log(printable({ result: "crashed", error: String(error) }));
    process.exit(1);
  });
