import { z } from 'zod';

const csv = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()))
  .pipe(z.array(z.string().regex(/^[A-Z]{3}$/)).min(1));

const intakeEnvironment = z.object({
  TABLE_NAME: z.string().min(3),
  PAYMENT_SUBMISSION_QUEUE_URL: z.url(),
  SUPPORTED_CURRENCIES: csv,
  MAX_ORDER_AMOUNT: z.coerce.number().int().positive(),
  CONFIRMATION_WINDOW_SECONDS: z.coerce.number().int().positive(),
});
export type IntakeEnvironment = z.infer<typeof intakeEnvironment>;

/** Reads the intake function's settings; a missing or wrong one stops the cold start loudly. */
export function readIntakeEnvironment(env: NodeJS.ProcessEnv = process.env): IntakeEnvironment {
  const result = intakeEnvironment.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.')}: ${issue.message}`,
    );
    throw new Error(`Invalid environment: ${problems.join('; ')}`);
  }
  return result.data;
}
