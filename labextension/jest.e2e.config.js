/** The end-to-end test: a real JupyterLab server driven in Debian's Chromium. */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/ui-tests/**/*.e2e.ts'],
  testTimeout: 600000,
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  }
};
