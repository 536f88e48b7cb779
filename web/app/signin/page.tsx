import { AuthForm } from "@/components/AuthForm";

export const metadata = { title: "Sign in · OMS Shop" };

export default function SignInPage() {
  return <AuthForm mode="signin" />;
}
