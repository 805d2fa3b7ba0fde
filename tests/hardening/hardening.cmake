# Hardening (issue 12) against the real binary: slow and idle clients cannot starve the service,
# and every error the HTTP layer makes itself is SPEC §3's JSON. (Fuzzing: scripts/fuzz.sh; the
# sanitizer builds: scripts/test_sanitizers.sh; the soak: bench/soak.py.)
add_test(NAME hardening.slow_clients
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/hardening/slow_clients_test.py
          --cutout $<TARGET_FILE:cutout> --image ${CUTOUT_EVAL_DIR}/grabcut/images/person1.jpg)
add_test(NAME hardening.http_errors
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/hardening/http_errors_test.py --cutout $<TARGET_FILE:cutout>)
set_tests_properties(hardening.slow_clients hardening.http_errors PROPERTIES LABELS e2e TIMEOUT 300)
