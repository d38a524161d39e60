"""A plain neural style transfer written the way the public TensorFlow style-transfer tutorial does it:
a ``tf.Variable`` image, ``tf.keras.optimizers.Adam``, one ``tf.function`` call per step, raw Gram
sums with the tutorial's weights (style 1e-2, content 1e4, total variation 30).  The benchmark runs
it on the same feature extractor as the renderer, so the comparison is about the step loop, not the
network.
"""

from __future__ import annotations

from render.tfsetup import tf


class ReferenceStyle:
    """``step()`` runs one optimisation step on ``image`` (a ``(1, H, W, 3)`` variable in 0..1)."""

    def __init__(self, extractor, style_layers, content_layers, style_image, content_image,
                 style_weight=1e-2, content_weight=1e4, tv_weight=30.0, learning_rate=0.02):
        self.extractor = extractor
        self.n_style = len(style_layers)
        self.n_content = len(content_layers)
        self.style_index = [extractor.layers.index(l) for l in style_layers]
        self.content_index = [extractor.layers.index(l) for l in content_layers]
        self.style_targets = [self._gram(o) for o in self._outputs(style_image, self.style_index)]
        self.content_targets = self._outputs(content_image, self.content_index)
        self.weights = (style_weight, content_weight, tv_weight)
        self.image = tf.Variable(content_image)
        self.optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.99, epsilon=1e-1)
        self.step = tf.function(self._step)

    def _outputs(self, image, indices):
        outputs = self.extractor(image)
        return [outputs[i] for i in indices]

    @staticmethod
    def _gram(tensor):
        result = tf.linalg.einsum("bijc,bijd->bcd", tensor, tensor)
        shape = tf.shape(tensor)
        return result / tf.cast(shape[1] * shape[2], tf.float32)

    def _loss(self, image):
        outputs = self.extractor(image)
        style = tf.add_n([tf.reduce_mean((self._gram(outputs[i]) - t) ** 2)
                          for i, t in zip(self.style_index, self.style_targets)])
        content = tf.add_n([tf.reduce_mean((outputs[i] - t) ** 2)
                            for i, t in zip(self.content_index, self.content_targets)])
        style_weight, content_weight, tv_weight = self.weights
        return (style * style_weight / self.n_style + content * content_weight / self.n_content
                + tv_weight * tf.image.total_variation(image))

    def _step(self):
        with tf.GradientTape() as tape:
            loss = self._loss(self.image)
        grad = tape.gradient(loss, self.image)
        self.optimizer.apply_gradients([(grad, self.image)])
        self.image.assign(tf.clip_by_value(self.image, 0.0, 1.0))
        return loss
