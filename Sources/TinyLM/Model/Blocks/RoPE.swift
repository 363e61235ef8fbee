/// Rotary position embedding. Each pair of dimensions (i, j) of a head is rotated by the angle
/// position · base^(-2k/dims) for pair index k. Angles are built the way ggml builds them — a
/// running Float product of the per-pair factor — so rotations match llama.cpp's closely.
struct RoPE {
    let dimensions: Int       // how many leading dimensions of each head rotate
    let headSize: Int
    let base: Float
    let positionScale: Float  // linear context scaling (1 = none)
    let style: RoPEStyle

    /// Rotates `heads` consecutive heads of one token in place.
    func apply(_ vector: UnsafeMutablePointer<Float>, heads: Int, position: Int, table: UnsafeMutablePointer<Float>) {
        fillTable(table, position: position)
        for h in 0..<heads {
            let head = vector + h * headSize
            for k in 0..<(dimensions / 2) {
                let cos = table[2 * k], sin = table[2 * k + 1]
                let (i, j) = style == .adjacentPairs ? (2 * k, 2 * k + 1) : (k, k + dimensions / 2)
                let x0 = head[i], x1 = head[j]
                // ggml's rotate_pairs as gcc compiles it (contracted): fma(x0, cos, -(x1·sin))
                // and fma(x0, sin, x1·cos); x0·cos is exact in Double.
                head[i] = Float(Double(x0) * Double(cos) - Double(x1 * sin))
                head[j] = Float(Double(x0) * Double(sin) + Double(x1 * cos))
            }
        }
    }

    /// (cos, sin) for every pair at `position`; `table` holds `dimensions` floats.
    func fillTable(_ table: UnsafeMutablePointer<Float>, position: Int) {
        let thetaScale = Math.pow(base, -2 / Float(dimensions))
        var theta = Float(position)
        for k in 0..<(dimensions / 2) {
            let (sin, cos) = Math.sinCos(Double(theta * positionScale))
            table[2 * k] = cos
            table[2 * k + 1] = sin
            theta *= thetaScale
        }
    }
}
