"""Installing what a workflow lacks on the PC, through ComfyUI-Manager, with consent.

``plan`` finds what is missing and where each piece comes from; ``client`` speaks
Manager's HTTP API; ``fixing`` runs the plan (queue, progress, restart, validate again);
``manual`` writes the steps to do by hand on the PC when Manager cannot.
"""
