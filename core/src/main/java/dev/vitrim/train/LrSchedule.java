package dev.vitrim.train;

/**
 * Per-step learning rate: linear warm-up from {@code lr / warmupSteps} to {@code lr} over {@code warmupSteps}
 * steps, then cosine decay to {@code minLr} at the last step.
 */
record LrSchedule(double lr, double minLr, long warmupSteps, long totalSteps) {
    /** Learning rate of step {@code t} (0-based). */
    public double at(long t) {
        if (t < warmupSteps) {
            return lr * (t + 1) / warmupSteps;
        }
        long decay = totalSteps - warmupSteps;
        if (decay <= 1) {
            return lr;
        }
        double p = Math.min(1.0, (double) (t - warmupSteps) / (decay - 1));
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * p));
    }
}
