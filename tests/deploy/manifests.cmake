# Cloud Run and Kubernetes manifests: tests/deploy/check_manifests.py (label unit).
# It runs the real binary (`serve --help`, `remove --help`, `serve` with each manifest's
# environment, and each batch job's tasks with the tiny test model), so it needs the cutout target
# and the test models (both built by default).
add_test(NAME deploy.manifests
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/deploy/check_manifests.py
          --cutout $<TARGET_FILE:cutout>
          --source ${CMAKE_SOURCE_DIR}
          --test-models ${CUTOUT_TEST_MODELS_DIR})
set_tests_properties(deploy.manifests PROPERTIES LABELS unit TIMEOUT 300)
