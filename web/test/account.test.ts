import { describe, expect, it } from "vitest";
import { passwordDraftErrors, passwordServerErrors } from "../lib/account";

describe("passwordDraftErrors", () => {
  it("accepts a good draft", () => {
    expect(passwordDraftErrors({ current: "old-password", next: "new-password-1", confirm: "new-password-1" })).toEqual({});
  });
  it("names each problem at its field", () => {
    expect(passwordDraftErrors({ current: "", next: "short", confirm: "short" })).toEqual({
      current: "Enter your current password.",
      next: "The new password needs at least 8 characters.",
    });
    expect(passwordDraftErrors({ current: "a", next: "x".repeat(129), confirm: "" }).next).toMatch(/at most 128/);
    expect(passwordDraftErrors({ current: "same-password", next: "same-password", confirm: "same-password" }).next).toMatch(/differ/);
    expect(passwordDraftErrors({ current: "a", next: "new-password-1", confirm: "new-password-2" })).toEqual({ confirm: "The two new passwords differ." });
  });
  it("maps the server's fields", () => {
    expect(passwordServerErrors([{ field: "new_password", message: "8 to 128 characters" }, { field: "x", message: "?" }])).toEqual({ next: "8 to 128 characters" });
  });
});
