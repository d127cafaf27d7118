import QtQuick
import QtTest
import Daub.Ui

Item {
    id: host
    width: 400
    height: 200

    StrengthSlider {
        id: slider
        width: 360
        steps: 20
        onMoved: (v) => value = v // as the app does, through the setting
    }

    SignalSpy { id: movedSpy; target: slider; signalName: "moved" }

    TestCase {
        name: "StrengthSlider"
        when: windowShown

        function init() {
            slider.hasInitImage = false
            slider.value = 0.75
            slider.steps = 20
            movedSpy.clear()
        }

        function test_range_and_default() {
            compare(slider.slider.from, 0.01)
            compare(slider.slider.to, 1.0)
            compare(slider.value, 0.75)
            compare(slider.slider.value, 0.75)
            compare(slider.defaultValue, 0.75)
        }

        function test_hidden_without_init_image() {
            verify(!slider.visible)
            slider.hasInitImage = true
            verify(slider.visible)
            slider.hasInitImage = false
            verify(!slider.visible)
        }

        function test_value_text_and_meaning() {
            slider.hasInitImage = true
            const label = findChild(slider, "valueLabel")
            compare(label.text, "0.75 \u2014 keeps the composition")
            slider.value = 0.2
            compare(label.text, "0.20 \u2014 stays close to the image")
            slider.value = 1.0
            compare(label.text, "1.00 \u2014 uses only the colours")
        }

        function test_steps_that_run() {
            // The count comes from the app (the engine's img2img_steps);
            // the slider shows it, and nothing while it is unknown.
            slider.hasInitImage = true
            const label = findChild(slider, "stepsLabel")
            slider.stepsToRun = -1
            verify(!label.visible)
            slider.stepsToRun = 15
            verify(label.visible)
            compare(label.text, "Runs 15 of 20 steps")
            slider.steps = 30
            compare(label.text, "Runs 15 of 30 steps")
            slider.stepsToRun = -1
        }

        function test_clamped_to_range() {
            slider.hasInitImage = true
            slider.value = 0
            compare(slider.slider.value, 0.01)
            slider.value = 3
            compare(slider.slider.value, 1.0)
        }

        function test_drag_reports_value() {
            slider.hasInitImage = true
            const s = slider.slider
            waitForRendering(s)
            // Press at the left end: the smallest strength.
            mousePress(s, s.leftPadding + 1, s.height / 2)
            mouseRelease(s, s.leftPadding + 1, s.height / 2)
            verify(movedSpy.count >= 1)
            fuzzyCompare(movedSpy.signalArguments[movedSpy.count - 1][0], 0.01, 0.02)
        }
    }
}
