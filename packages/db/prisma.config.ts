import { defineConfig } from 'prisma/config';

// Used by `prisma generate` (scripts/generate.mjs) and, where Prisma's schema engine is
// available, by `prisma migrate deploy|diff|status` and `prisma studio`. Applications never
// load this file; they read DATABASE_URL through src/env.ts.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/sluice' },
});
