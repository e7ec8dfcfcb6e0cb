// Drive the chat-api test UI like a person: see it ask for a key, enter the API key, type a message, wait for the answer to finish
// streaming, reload, and report what the page shows as JSON on stdout (pytest asserts on it).
// Usage: node chat_ui.mjs <chat-api base URL> <api key> <message> [screenshot.png]
import { chromium } from "playwright-core";

const [baseUrl, apiKey, message, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});

async function bubbles(page) {
  return page.$$eval(".msg", (nodes) =>
    nodes.map((n) => ({ role: n.className.replace("msg ", ""), html: n.innerHTML, text: n.textContent })),
  );
}

try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(baseUrl, { waitUntil: "load" });
  // Before any key is entered, the page should say it needs one (the server refuses a keyless caller).
  const prompt = await page
    .waitForSelector(".status.error", { timeout: 15000 })
    .then((el) => el.textContent())
    .catch(() => null);
  await page.fill("#api-key", apiKey);
  await page.click("#key-form button");
  await page.waitForSelector(".status.ok", { timeout: 30000 });
  await page.fill("#message", message);
  await page.press("#message", "Enter");
  // Seen mid-stream: the typing cursor while chunks arrive (absent if the answer came in one frame).
  const sawCursor = await page
    .waitForSelector(".msg.assistant .cursor", { timeout: 5000 })
    .then(() => true)
    .catch(() => false);
  await page.waitForFunction(
    () => document.querySelector(".msg.error") ||
      (document.querySelector(".msg.assistant") && !document.querySelector(".cursor")),
    null,
    { timeout: 60000 },
  );
  const before = await bubbles(page);
  const sessionId = await page.evaluate(() => localStorage.getItem("nova.chat.sessionId"));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  await page.reload({ waitUntil: "load" });
  await page.waitForSelector(".status.ok", { timeout: 30000 });
  const after = await bubbles(page);
  const sessionAfterReload = await page.evaluate(() => localStorage.getItem("nova.chat.sessionId"));
  console.log(JSON.stringify({ prompt, sawCursor, before, after, sessionId, sessionAfterReload, consoleErrors }));
} finally {
  await browser.close();
}
