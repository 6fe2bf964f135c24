// eslint.config.mjs — eslint for the web client (web/src, ES modules in the
// browser), its build script (web/embed.mjs), the browser tests
// (tests/browser, node) and the supabase-js test (tests/supabase, node). Run
// by scripts/lint.sh from the top of the repository with --config, so the
// patterns below are relative to it.
import js from '@eslint/js';
import globals from 'globals';

export default [
  js.configs.recommended,
  {
    rules: {
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-shadow': 'error',
      'no-unused-vars': ['error', { args: 'after-used', caughtErrors: 'all' }],
      'object-shorthand': 'error',
    },
  },
  {
    files: ['web/src/**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: globals.browser },
    rules: {
      // The page's state lives in state.js's object or in a module's own
      // const object (timers), never in module-level lets.
      'no-restricted-syntax': [
        'error',
        {
          selector: 'Program > VariableDeclaration[kind="let"]',
          message: 'no module-level let: keep state in state.js or a const object of the module',
        },
      ],
    },
  },
  {
    files: ['web/*.mjs', 'web/lint/*.mjs', 'tests/browser/**/*.mjs', 'tests/supabase/**/*.mjs'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: globals.node },
  },
  {
    // The functions the tests hand to page.evaluate run in the page.
    files: ['tests/browser/**/*.mjs'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
];
