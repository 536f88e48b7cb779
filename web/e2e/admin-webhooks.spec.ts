import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PHONE, expect, expectAccessible, newAdminPage, sidewaysOverflow, test, unique } from "./fixtures";

/**
 * A webhook receiver on 127.0.0.1 (scripts/web-e2e.sh lets the server call loopback http
 * endpoints): it records every call and answers `status` (500 while `failing`, else 200).
 */
class Receiver {
  calls: { headers: IncomingHttpHeaders; body: string }[] = [];
  failing = false;
  private server: Server | null = null;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.calls.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(this.failing ? 500 : 200, { "Content-Type": "text/plain" });
        res.end(this.failing ? "failing on purpose" : "ok");
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/${unique("oms")}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Standard Webhooks: v1,base64(HMAC-SHA256(base64-decoded secret, "{id}.{timestamp}.{body}")). */
function signatureOk(secret: string, call: { headers: IncomingHttpHeaders; body: string }): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${call.headers["webhook-id"]}.${call.headers["webhook-timestamp"]}.${call.body}`).digest("base64");
  return String(call.headers["webhook-signature"] ?? "")
    .split(" ")
    .includes(`v1,${expected}`);
}

test.describe("the webhooks page", () => {
  let receiver: Receiver;
  test.beforeEach(() => {
    receiver = new Receiver();
  });
  test.afterEach(async () => {
    await receiver.stop();
  });

  test("create an endpoint (the secret shown once, with a copy button), send the test event, see the deliveries' status and retry a failed one", async ({
    adminPage: admin,
  }) => {
    const url = await receiver.start();
    await admin.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    await admin.goto("/admin/webhooks");
    await expect(admin.getByRole("heading", { name: "Webhooks" })).toBeVisible();

    // The form's own checks, at the field.
    await expect(admin.getByText("Loading endpoints…")).toHaveCount(0);
    const form = admin.locator("details").filter({ hasText: "New endpoint" });
    if (!(await form.evaluate((d) => (d as HTMLDetailsElement).open))) await admin.getByText("New endpoint").click();
    await admin.getByLabel("URL").fill("hooks.example.com/oms");
    await admin.getByRole("button", { name: "Create endpoint" }).click();
    await expect(admin.getByLabel("URL")).toHaveAttribute("aria-invalid", "true");
    await expect(admin.getByText("An absolute https:// address.")).toBeVisible();
    await expectAccessible(admin, "/admin/webhooks with a field error");

    await admin.getByLabel("URL").fill(url);
    await admin.getByLabel("Description (optional)").fill("e2e receiver");
    await admin.getByRole("button", { name: "Create endpoint" }).click();
    const secretBox = admin.getByTestId("webhook-secret");
    await expect(secretBox).toContainText("it is shown only this once");
    const secret = (await admin.getByTestId("webhook-secret-value").textContent()) ?? "";
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    await secretBox.getByRole("button", { name: "Copy secret" }).click();
    await expect(admin.getByTestId("copy-status")).toHaveText(/Copied to the clipboard\.|Selected: press Ctrl\+C/);
    if ((await admin.getByTestId("copy-status").textContent())?.startsWith("Copied")) {
      expect(await admin.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    }
    await expectAccessible(admin, "/admin/webhooks with the new secret");
    await secretBox.getByRole("button", { name: "I have saved it" }).click();
    await expect(secretBox).toHaveCount(0);
    // Shown once: not after a reload either.
    await admin.reload();
    const endpoint = admin.getByTestId("webhook-endpoint").filter({ hasText: url });
    await expect(endpoint).toBeVisible();
    await expect(endpoint).toContainText("enabled");
    expect(await admin.content()).not.toContain(secret);

    // The test event, to a receiver that fails: tried 3 times (WEBHOOK_RETRY_SCHEDULE=1s,1s), then failed.
    receiver.failing = true;
    await endpoint.getByRole("button", { name: "Send test event" }).click();
    await expect(endpoint.getByText("Test event queued: see the deliveries below.")).toBeVisible();
    const delivery = endpoint.getByTestId("delivery-row").filter({ hasText: "webhook.test" });
    await expect(delivery).toBeVisible();
    await expect(async () => {
      await endpoint.getByRole("button", { name: "Refresh deliveries" }).click();
      await expect(delivery).toHaveAttribute("data-status", "failed", { timeout: 1000 });
    }).toPass({ timeout: 20_000 });
    await expect(delivery.getByTestId("delivery-status")).toHaveText("failed");
    await expect(delivery).toContainText("failed: HTTP 500");
    expect(receiver.calls.length).toBeGreaterThanOrEqual(3);
    await expectAccessible(admin, "/admin/webhooks with deliveries");

    // Retry once the receiver is back: delivered, with the same webhook-id and a valid signature.
    receiver.failing = false;
    await delivery.getByRole("button", { name: /^Retry delivery of webhook\.test/ }).click();
    await expect(async () => {
      await endpoint.getByRole("button", { name: "Refresh deliveries" }).click();
      await expect(delivery).toHaveAttribute("data-status", "succeeded", { timeout: 1000 });
    }).toPass({ timeout: 20_000 });
    await expect(delivery).toContainText("delivered (HTTP 200)");
    const last = receiver.calls.at(-1)!;
    expect(JSON.parse(last.body).type).toBe("webhook.test");
    expect(new Set(receiver.calls.map((c) => c.headers["webhook-id"])).size, "every attempt of one delivery has one webhook-id").toBe(1);
    expect(signatureOk(secret, last), "the delivery is signed with the secret shown once").toBe(true);

    // Deliveries filtered by status.
    await endpoint.getByLabel("Deliveries").selectOption("failed");
    await expect(endpoint.getByText("No delivery yet.")).toBeVisible();
    await endpoint.getByLabel("Deliveries").selectOption("succeeded");
    await expect(delivery).toBeVisible();
  });

  test("disable needs a confirmation, rotate shows the new secret once, delete is confirmed; the page fits a phone", async ({ browser }) => {
    const url = await receiver.start();
    const admin = await newAdminPage(browser, PHONE);
    await admin.goto("/admin/webhooks");
    await expect(admin.getByText("Loading endpoints…")).toHaveCount(0);
    const form = admin.locator("details").filter({ hasText: "New endpoint" });
    if (!(await form.evaluate((d) => (d as HTMLDetailsElement).open))) await admin.getByText("New endpoint").click();
    await admin.getByLabel("URL").fill(url);
    await admin.getByLabel("All events").uncheck();
    await admin.getByRole("button", { name: "Create endpoint" }).click();
    await expect(admin.getByText("Choose at least one event type, or all.")).toBeVisible();
    await admin.getByLabel("order.refunded").check();
    await admin.getByRole("button", { name: "Create endpoint" }).click();
    await expect(admin.getByTestId("webhook-secret")).toBeVisible();
    const first = await admin.getByTestId("webhook-secret-value").textContent();
    await admin.getByRole("button", { name: "I have saved it" }).click();
    const endpoint = admin.getByTestId("webhook-endpoint").filter({ hasText: url });
    await expect(endpoint).toContainText("events: order.refunded");
    expect(await sidewaysOverflow(admin), "/admin/webhooks scrolls sideways on a phone").toBeLessThanOrEqual(0);

    const dialog = admin.getByTestId("confirm-dialog");
    await endpoint.getByRole("button", { name: "Disable…" }).click();
    await dialog.getByRole("button", { name: "Disable endpoint" }).click();
    await expect(endpoint).toContainText("disabled");
    await endpoint.getByRole("button", { name: "Enable" }).click();
    await expect(endpoint.getByRole("button", { name: "Disable…" })).toBeVisible();

    await endpoint.getByRole("button", { name: "Rotate secret…" }).click();
    await dialog.getByRole("button", { name: "Rotate secret" }).click();
    await expect(admin.getByTestId("webhook-secret")).toContainText("New secret for");
    const rotated = await admin.getByTestId("webhook-secret-value").textContent();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(first);
    await expectAccessible(admin, "/admin/webhooks (phone)");
    await admin.getByRole("button", { name: "I have saved it" }).click();

    await endpoint.getByRole("button", { name: "Delete…" }).click();
    await dialog.getByRole("button", { name: "Keep it" }).click();
    await expect(endpoint).toBeVisible();
    await endpoint.getByRole("button", { name: "Delete…" }).click();
    await dialog.getByRole("button", { name: "Delete endpoint" }).click();
    await expect(endpoint).toHaveCount(0);
    await admin.context().close();
  });
});
