"""The lecture's remedy for each verdict of the doctor (:mod:`.verdict`), as sentences with
the evidence's numbers filled in (``{relative_loss_change}``, ``{window}``, …; ``{change}``: a
flat loss's change in words, :func:`flat_change`)."""

REMEDIES = {
    "diverged": (
        "The loss blew up at step {divergence_step}: η is too large for the surface's "
        "curvature (η·λ_max > 2 makes every step overshoot further). Restart from before that "
        "step with a smaller η, a warm-up (small η first, as ResNet and the Transformer do), "
        "or an adaptive σ (Adam, RAdam)."
    ),
    "oscillating": (
        "The gradient stays large and flips direction every step: θ is bouncing between the "
        "walls of a valley, not stuck at a critical point (the loss barely moves, or falls only "
        "along flatter directions). Give each parameter its own step η/σ_i (Adagrad, RMSProp, "
        "Adam) so the steep direction takes small steps, or lower η or let it decay "
        "(learning-rate decay) so the bouncing dies out."
    ),
    "near a critical point": (
        "The gradient is close to 0: θ is near a critical point. Check the Hessian "
        "(diagnose(critical=...)): a saddle point is escaped along the eigenvector of a "
        "negative eigenvalue (or with momentum or a smaller batch); at a local minimum, a "
        "loss still too high points at the model, not the optimizer."
    ),
    "saddle point": (
        "θ is near a saddle point: the Hessian has a negative eigenvalue λ_min = "
        "{min_eigenvalue:.3g}, and a step along its eigenvector u lowers the loss by about "
        "½|λ_min|·‖u‖². Step along u (escape_direction), or use momentum or a smaller batch, "
        "whose noise also carries θ off the saddle."
    ),
    "local minimum": (
        "θ is near a local minimum: every Hessian eigenvalue is positive (λ_min = "
        "{min_eigenvalue:.3g}). If the loss is low enough, training is done — watch the "
        "validation loss; if it is still too high, the model is too simple (model bias: more "
        "features, a larger network) or needs another start, since in many dimensions true "
        "local minima are rare."
    ),
    "local maximum": (
        "θ is near a local maximum: every Hessian eigenvalue is negative, so any small step "
        "lowers the loss; perturb θ (or use momentum) to leave it."
    ),
    "not critical": (
        "The gradient is small next to where it started, but the Hessian check does not count "
        "θ as a critical point (‖g‖ above its tolerance): θ is on a gentle slope, still moving; "
        "keep training, or raise η if the steps are too small to matter."
    ),
    "progressing": (
        "The loss changed by {relative_loss_change:+.2%} over the last {window} steps and "
        "nothing says stuck: keep training."
    ),
    "crawling": (
        "The loss changed by {change} over the last {window} steps while "
        "the gradient kept its size (×{gradient_norm_window_ratio:.3g} over the window) and its "
        "direction (mean cosine {mean_gradient_cosine:.2f}): every step goes the right way and "
        "is far too short — η is too small (the lecture's η = 10⁻⁷). Raise η{room}; if the "
        "steep directions forbid a larger η, give each parameter its own η/σ_i (Adagrad, "
        "RMSProp, Adam) so the gentle slopes get larger steps."
    ),
    "stable curvature": (
        "The loss is flat and the gradient large and flipping, but η·λ_max = "
        "{lr_times_max_eigenvalue:.3g} < 2, so the steps do not overshoot that curvature: the "
        "flips are likely mini-batch noise. A larger batch or a decaying η steadies them."
    ),
    "rising": (
        "The loss rose by {relative_loss_change:+.2%} over the last {window} steps (from its best "
        "at step {divergence_step}; ‖g‖ ×{gradient_norm_window_ratio:.3g} over the window): with "
        "η·λ < 2 a gradient step only lowers the loss, so some direction's error grows by "
        "|1 − η·λ| > 1 per step and the run is diverging. Lower η, or add a warm-up or an "
        "adaptive σ (Adam, RAdam), before it blows up."
    ),
    "stalled": (
        "The loss changed by {change} over the last {window} steps, but "
        "the gradient neither vanishes, nor keeps its direction, nor flips (mean cosine "
        "{mean_gradient_cosine:.2f}): the likeliest cause is mini-batch noise, which a larger "
        "batch or a decaying η steadies."
    ),
    "undetermined": (
        "The loss changed by {change} over the last {window} steps, and "
        "the record lacks {lacking}: a critical point, a bounce between valley walls and a "
        "crawl with η too small all flatten the loss. Log ‖g‖ and cos(g^t, g^{{t−1}}) (ravine's "
        "Monitor records both) to tell them apart."
    ),
}


def flat_change(evidence: dict[str, float]) -> str:
    """A flat loss's change over the window in words: "only +0.12%", or, where the mini-batch
    losses scatter more than that, the change with the band it lies within — a change of 40%
    among losses scattering by 50% is flat for the doctor, not small."""
    change, band = evidence["relative_loss_change"], 2 * evidence["relative_loss_noise"]
    if abs(change) < band:
        return f"{change:+.2%}, within twice the scatter of its mini-batch losses (±{band:.2%}),"
    return f"only {change:+.2%}"
