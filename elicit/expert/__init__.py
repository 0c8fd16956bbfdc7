"""The expert's side: personal links, answering a round, seeing the panel's feedback."""
