# The textshards image: Beam's Python SDK worker image with this package installed.
#   Dataflow workers:  textshards prepare ... -- --runner DataflowRunner --sdk_container_image IMAGE
#   the CLI:           docker run --rm --entrypoint textshards IMAGE prepare ...
# Build and push: docs/dataflow.md. The tag is the Beam version pyproject.toml pins exactly (a job's
# Beam must be the workers' Beam; tests/test_dataflow.py checks they agree), and jobs that use this
# image must be submitted from the same Python (3.11): steps are pickled.
FROM apache/beam_python3.11_sdk:2.77.0

# Extras of the package to install (at least one). The default needs nothing beyond the base
# image's Beam; "dataflow,train" adds torch for `textshards train`, gigabytes that no Beam worker uses.
ARG EXTRAS=dataflow

WORKDIR /opt/textshards
COPY pyproject.toml README.md ./
COPY pipeline/ pipeline/
COPY transforms/ transforms/
COPY tokenizer_training/ tokenizer_training/
COPY trainer/ trainer/
# The base image's Beam satisfies the pin, so pip keeps it; pip check fails the build where our
# dependencies and the image's own disagree, rather than a worker at run time. ("./[...]": hadolint
# reads ".[...]" as a package name without a version.)
RUN pip install --no-cache-dir "./[${EXTRAS}]" && pip check

# Beam's boot program stays the entrypoint: Dataflow starts the container with its own arguments.
ENTRYPOINT ["/opt/apache/beam/boot"]
