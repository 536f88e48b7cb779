import { AuthForm } from "@/components/AuthForm";

export const metadata = { title: "Sign up · OMS Shop" };

export default function SignUpPage() {
  return <AuthForm mode="signup" />;
}
