// Package e2e holds logship's end-to-end tests: they drive a real dockerd
// through the docker CLI (and docker-compose) and check what `docker logs`
// returns for containers logging through the plugin.
//
// The tests run only with LOGSHIP_E2E=1 (see test/run-tests.sh, `make test`);
// without it every test skips, so `go test ./...` passes on a machine without
// Docker. With LOGSHIP_E2E=1 an unreachable dockerd, a missing test image or a
// missing/disabled plugin is a failure, not a skip.
//
// Environment:
//
//	LOGSHIP_E2E=1              run the tests
//	LOGSHIP_E2E_DRIVER         log driver under test (default logship:latest);
//	                           json-file or local measure Docker's baseline
//	LOGSHIP_E2E_PLUGIN_DIR     plugin folder (config.json + rootfs/) used by the
//	                           registry install/upgrade test (default
//	                           <repo>/build/plugin, made by `make plugin-dir`)
//	LOGSHIP_E2E_IMAGE          test image (default logship-test/busybox:latest,
//	                           built by test/setup.sh)
//	LOGSHIP_TEST_CACHE         setup.sh's cache folder (default
//	                           /var/cache/logship-test; holds bin/registry)
//
// Tests run sequentially: several of them kill or disable the plugin or
// restart dockerd, and restore what they disturbed in t.Cleanup. Every
// container carries the label logship-e2e, and leftovers are swept before and
// after the run. `go test -short` skips the slow ones (-f beyond 30 s).
package e2e
