import corePkg from '@nestjs/core/package.json' with { type: 'json' };

/** The major version of the `@nestjs/core` this test run resolved (10 in tests/nestjs-module-v10, else 11). */
export const nestMajor = Number((corePkg as { version: string }).version.split('.')[0]);
