"""The register of corrective actions (整改台账), below the features that feed it."""
