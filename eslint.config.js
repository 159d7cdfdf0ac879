// Lint for src/ (TypeScript) and the JavaScript around it (tests, benchmarks, scripts).
// Formatting is not enforced beyond a line-length cap; the rules are about mistakes.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const common = {
  'max-len': ['error', { code: 160, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
  'no-unused-vars': 'off',
  'prefer-const': 'error',
  eqeqeq: ['error', 'always', { null: 'ignore' }],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'tmp/**', 'plugins-example/**/target/**', 'sdk/**', '**/*.d.ts'] },
  {
    files: ['src/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      ...common,
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // The import graph must be followable: no import() through a variable (docs/architecture.md).
      'no-restricted-syntax': ['error', { selector: "ImportExpression[source.type!='Literal']", message: 'name the module literally in import()' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // Node 20's global `performance` is a lazy accessor on globalThis: every read from a hot path
      // goes through the global IC's slow path. The module's export is a plain binding.
      'no-restricted-globals': ['error', { name: 'performance', message: "import { performance } from 'node:perf_hooks'" }],
    },
  },
  {
    files: ['**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      ...common,
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // The dashboard's script runs in the browser.
  { files: ['src/server/dashboard/**/*.js'], languageOptions: { globals: { ...globals.browser } } },
);
