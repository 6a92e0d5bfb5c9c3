/** Jest runs the TypeScript sources through swc (no type-check: `npm test` runs tsc first). */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'es6' } }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  globalSetup: '<rootDir>/test/helpers/dropTestDatabases.js',
  globalTeardown: '<rootDir>/test/helpers/dropTestDatabases.js',
  maxWorkers: 2,
  testTimeout: 30000,
};
