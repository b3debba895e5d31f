// ESLint flat config: typescript-eslint's recommended rules for all TypeScript, react-hooks for the
// page, browser/worker globals for src and workers, Node globals for the CLI, scripts and tests.
import js from '@eslint/js';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';
import layers from './eslint/layers.js';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'public/**',
      'test-results/**',
      'playwright-report/**',
      '.cache/**',
      'bench/results/**',
      'bench/tmp/**',
      'test/fixtures/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Typed-array code indexes in loops; `let` that is reassigned later in a loop is clearer.
      'prefer-const': ['error', { destructuring: 'all' }],
    },
  },
  {
    files: ['src/**/*.{ts,tsx}', 'workers/**/*.ts'],
    languageOptions: { globals: { ...globals.browser, ...globals.worker } },
  },
  {
    files: ['src/**/*.tsx', 'src/app/**/*.ts', 'src/state/**/*.ts'],
    ...reactHooks.configs.flat.recommended,
  },
  {
    // One direction of imports between folders (eslint/layers.js): no upward import, no folder cycle.
    files: ['src/**/*.{ts,tsx}', 'workers/**/*.ts', 'cli/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.{ts,mjs}', 'examples/**/*.{ts,mjs}'],
    plugins: { layers },
    rules: { 'layers/one-way': 'error' },
  },
  {
    // Nothing imports a command (cli/commands/*): not another command, a test, a bench or src.
    files: ['src/**/*.{ts,tsx}', 'workers/**/*.ts', 'cli/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.{ts,mjs}', 'examples/**/*.{ts,mjs}', 'test/**/*.ts'],
    plugins: { layers },
    rules: { 'layers/commands-private': 'error' },
  },
  {
    files: ['cli/**/*.ts', 'bin/**/*.js', 'examples/**/*.{ts,mjs}', 'scripts/**/*.{js,mjs,ts}', 'bench/**/*.ts', 'test/**/*.ts', '*.config.{js,ts}', 'eslint/**', '.ci/**'],
    languageOptions: { globals: { ...globals.node } },
  },
);
