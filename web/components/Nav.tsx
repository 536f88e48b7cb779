"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCart } from "@/lib/cart";
import { useSession } from "@/lib/session";

export function Nav() {
  const { user, loading, signOut } = useSession();
  const lines = useCart();
  const router = useRouter();
  const count = lines.reduce((n, l) => n + l.quantity, 0);
  return (
    <header className="topbar">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Link href="/" className="brand">
        OMS Shop
      </Link>
      <nav aria-label="Main">
        <ul>
          <li>
            <Link href="/">Catalogue</Link>
          </li>
          <li>
            <Link href="/cart" data-testid="nav-cart">
              Cart{count ? ` (${count})` : ""}
            </Link>
          </li>
          {user ? (
            <li>
              <Link href="/orders">My orders</Link>
            </li>
          ) : null}
          {user ? (
            <li>
              <Link href="/account">Account</Link>
            </li>
          ) : null}
          {user?.role === "ADMIN" ? (
            <>
              <li>
                <Link href="/admin">Dashboard</Link>
              </li>
              <li>
                <Link href="/admin/orders">Admin orders</Link>
              </li>
              <li>
                <Link href="/admin/products">Products</Link>
              </li>
              <li>
                <Link href="/admin/customers">Customers</Link>
              </li>
              <li>
                <Link href="/admin/audit">Audit log</Link>
              </li>
              <li>
                <Link href="/admin/webhooks">Webhooks</Link>
              </li>
            </>
          ) : null}
          {loading ? null : user ? (
            <li className="who">
              <span className="muted" data-testid="signed-in-as">
                {user.email}
              </span>{" "}
              <button
                type="button"
                className="link"
                onClick={async () => {
                  await signOut().catch(() => undefined);
                  router.push("/signin");
                }}
              >
                Sign out
              </button>
            </li>
          ) : (
            <>
              <li>
                <Link href="/signin">Sign in</Link>
              </li>
              <li>
                <Link href="/signup">Sign up</Link>
              </li>
            </>
          )}
        </ul>
      </nav>
    </header>
  );
}
