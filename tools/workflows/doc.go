// Package workflows holds the test that reads the GitHub Actions workflows in
// .github/workflows with actionlint's own parser and checks what actionlint
// does not: which job may mint the OIDC token, how actions are pinned, and
// that checkout keeps no token. It has no code of its own.
package workflows
