// Real-browser sign-in test for Portner (issue 3), driven by idp/tests/signin_browser.rs.
//
// Chromium (Debian's /usr/bin/chromium) runs headless with a CDP virtual authenticator, so the
// page's own WebAuthn script talks to a real browser WebAuthn stack. The script activates a
// pending user with a one-time code, signs out, signs in again with password and key, and
// checks the level shown on the account page. It prints one JSON line and exits non-zero on
// any failure.
//
// Usage: node signin.mjs BASE_URL USERNAME CODE PASSWORD

import { chromium } from "playwright-core";

const [baseUrl, username, code, password] = process.argv.slice(2);
if (!baseUrl || !username || !code || !password) {
  console.error("usage: node signin.mjs BASE_URL USERNAME CODE PASSWORD");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const steps = [];

function step(name) {
  steps.push(name);
  console.error(`step: ${name}`);
}

async function expectLevel(page, expected) {
  await page.waitForURL(`${baseUrl}/account`, { timeout: 15000 });
  const level = (await page.textContent("#session-level")).trim();
  if (level !== expected) {
    throw new Error(`session level is ${level}, expected ${expected}`);
  }
}

async function run() {
  const browser = await chromium.launch({ executablePath, headless: true });
  try {
    const context = await browser.newContext({ locale: "en-GB" });
    const page = await context.newPage();
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

    step("activate");
    await page.goto(`${baseUrl}/activate`);
    await page.fill("#username", username);
    await page.fill("#code", code);
    await page.fill("#new_password", password);
    await page.click("button[type=submit]");
    await page.click("#webauthn-start");
    await expectLevel(page, "Substantial");

    step("sign out");
    await page.click("#sign-out");
    await page.waitForURL(`${baseUrl}/login`);

    step("sign in with password and key");
    await page.fill("#username", username);
    await page.fill("#password", password);
    await page.click("button[type=submit]");
    await page.click("#webauthn-start");
    await expectLevel(page, "Substantial");

    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    if (credentials.length !== 1 || credentials[0].signCount < 2) {
      throw new Error(`unexpected authenticator state: ${JSON.stringify(credentials.length)}`);
    }
    step("done");
  } finally {
    await browser.close();
  }
}

run()
  .then(() => {
    console.log(JSON.stringify({ result: "passed", steps }));
  })
  .catch((error) => {
    console.log(JSON.stringify({ result: "failed", steps, error: String(error) }));
    process.exit(1);
  });
