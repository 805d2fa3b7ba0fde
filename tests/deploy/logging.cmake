# The Cloud Logging queries and log-based metrics (deploy/cloud-logging/) evaluated on real log
# lines of `cutout serve` (the real model, and a GPU device with tests/fake_nvml.c standing in for NVML).
file(GLOB CUTOUT_LOGGING_PHOTO "${CUTOUT_EVAL_DIR}/grabcut/images/*.jpg")
list(GET CUTOUT_LOGGING_PHOTO 0 CUTOUT_LOGGING_PHOTO)
add_test(NAME deploy.cloud_logging
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/deploy/check_logging.py
          --cutout $<TARGET_FILE:cutout> --source ${CMAKE_SOURCE_DIR}
          --model ${CUTOUT_MODELS_DIR}/isnet-qdq.onnx --bad-model ${CUTOUT_TEST_MODELS_DIR}/not_a_model.onnx
          --fake-nvml $<TARGET_FILE:fake_nvml> --fake-cuda-dir ${FAKE_CUDA_DIR} --photo ${CUTOUT_LOGGING_PHOTO})
set_tests_properties(deploy.cloud_logging PROPERTIES LABELS e2e TIMEOUT 300)
