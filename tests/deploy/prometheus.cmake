# Prometheus rules (promtool) and the e2e test against a real Prometheus.
#
# deploy/prometheus/cutout-rules.yml, its unit tests and the example config are checked by Debian's
# promtool; tests/deploy/prometheus_assets.py checks the rules' and the dashboard's metric names
# against the service's source (label unit, seconds). tests/deploy/prometheus_e2e.py runs the real
# service and a real Prometheus (label e2e, ~30 s on 2 cores). Both tools come from the Debian
# package `prometheus` (scripts/setup.sh); without it the tests fail and say so, the build does not.
find_program(CUTOUT_PROMTOOL promtool)
find_program(CUTOUT_PROMETHEUS prometheus)
set(CUTOUT_PROMETHEUS_DIR "${CMAKE_SOURCE_DIR}/deploy/prometheus")

function(cutout_prometheus_test name label timeout)
  add_test(NAME deploy.prometheus.${name} COMMAND ${ARGN})
  set_tests_properties(deploy.prometheus.${name} PROPERTIES LABELS ${label} TIMEOUT ${timeout})
endfunction()

if(CUTOUT_PROMTOOL)
  cutout_prometheus_test(check_rules unit 60 ${CUTOUT_PROMTOOL} check rules "${CUTOUT_PROMETHEUS_DIR}/cutout-rules.yml")
  cutout_prometheus_test(test_rules unit 60 ${CUTOUT_PROMTOOL} test rules "${CUTOUT_PROMETHEUS_DIR}/cutout-rules.test.yml")
  cutout_prometheus_test(check_config unit 60 ${CUTOUT_PROMTOOL} check config "${CUTOUT_PROMETHEUS_DIR}/prometheus.yml")
else()
  foreach(name check_rules test_rules check_config)
    cutout_prometheus_test(${name} unit 10 /bin/sh -c "echo 'promtool not found: install the Debian package prometheus (scripts/setup.sh)' >&2; exit 1")
  endforeach()
endif()

cutout_prometheus_test(assets unit 60
  /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/deploy/prometheus_assets.py --source-dir ${CMAKE_SOURCE_DIR})

if(CUTOUT_PROMETHEUS)
  cutout_prometheus_test(e2e e2e 240
    /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/deploy/prometheus_e2e.py
      --cutout $<TARGET_FILE:cutout>
      --source-dir ${CMAKE_SOURCE_DIR}
      --model ${CMAKE_SOURCE_DIR}/models/isnet-qdq.onnx
      --image ${CUTOUT_EVAL_DIR}/grabcut/images/106024.jpg
      --prometheus ${CUTOUT_PROMETHEUS})
else()
  cutout_prometheus_test(e2e e2e 10 /bin/sh -c "echo 'prometheus not found: install the Debian package prometheus (scripts/setup.sh)' >&2; exit 1")
endif()
