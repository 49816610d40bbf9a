import { LaunchPlan } from './types';

/** Parses a launch plan, with an error naming every bad field. */
export function parseLaunchPlan(input: unknown): LaunchPlan {
  const parsed = LaunchPlan.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(plan)'}: ${i.message}`);
  throw new Error(`invalid launch plan: ${issues.join('; ')}`);
}
