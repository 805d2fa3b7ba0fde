# The warmer on the synthetic traces (scripts/make_warmer_traces.py, deterministic, made at build
# time like the test models): the replay of every policy on every trace, and the Cloud Scheduler
# and CronJob exports of a plan.
set(CUTOUT_WARMER_TRACES_DIR "${CMAKE_BINARY_DIR}/warmer_traces")
add_custom_command(
  OUTPUT "${CUTOUT_WARMER_TRACES_DIR}/busy-office.csv"
  COMMAND /usr/bin/python3 "${CMAKE_SOURCE_DIR}/scripts/make_warmer_traces.py" "${CUTOUT_WARMER_TRACES_DIR}"
  DEPENDS "${CMAKE_SOURCE_DIR}/scripts/make_warmer_traces.py"
  COMMENT "Generating the warmer's test traces")
add_custom_target(warmer_traces ALL DEPENDS "${CUTOUT_WARMER_TRACES_DIR}/busy-office.csv")
add_test(NAME warmer.replay_traces
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/deploy/check_warmer_replay.py
          --cutout $<TARGET_FILE:cutout> --traces ${CUTOUT_WARMER_TRACES_DIR} --plots ${CMAKE_BINARY_DIR})
add_test(NAME warmer.exports
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/deploy/check_warmer_exports.py
          --cutout $<TARGET_FILE:cutout> --counts ${CUTOUT_WARMER_TRACES_DIR}/busy-office.csv
          --tz Europe/Berlin --from 2026-11-23T00:00:00Z)
add_test(NAME warmer.bound
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/deploy/check_warmer_bound.py
          --cutout $<TARGET_FILE:cutout> --traces ${CUTOUT_WARMER_TRACES_DIR})
set_tests_properties(warmer.replay_traces warmer.exports warmer.bound PROPERTIES LABELS unit TIMEOUT 300)
