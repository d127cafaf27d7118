// How much of the init image img2img keeps: denoise strength 0.01-1.0
// (default 0.75), with what the value means and how many of the steps
// actually run. Shown only while an init image is set.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    /// The strength (bind to the setting; the slider reports moves).
    property real value: 0.75
    /// The steps the options ask for.
    property int steps: 20
    /// The steps that will run: the app binds ChatController.stepsToRun()
    /// (the engine's own count); -1 (unknown) hides the line.
    property int stepsToRun: -1
    /// Whether an init image is set; the slider only shows then.
    property bool hasInitImage: false

    readonly property real from: 0.01
    readonly property real to: 1.0
    readonly property real defaultValue: 0.75
    readonly property alias slider: slider

    /// The user moved the slider to `value`.
    signal moved(real value)

    /// What a strength does to the image, in words.
    function meaning(v) {
        if (v <= 0.25) return qsTr("stays close to the image")
        if (v <= 0.5) return qsTr("keeps the details")
        if (v <= 0.85) return qsTr("keeps the composition")
        if (v < 1.0) return qsTr("keeps only the rough layout")
        return qsTr("uses only the colours")
    }

    visible: hasInitImage
    spacing: 4

    RowLayout {
        Layout.fillWidth: true
        Label {
            text: qsTr("Strength")
            font.weight: Font.DemiBold
            color: Theme.text
        }
        Item { Layout.fillWidth: true }
        Label {
            id: valueLabel
            objectName: "valueLabel"
            text: slider.value.toFixed(2) + " \u2014 " + root.meaning(slider.value)
            color: Theme.mutedText
        }
    }

    Slider {
        id: slider
        objectName: "strengthSlider"
        Layout.fillWidth: true
        from: root.from
        to: root.to
        stepSize: 0.01
        snapMode: Slider.SnapAlways
        onMoved: root.moved(value)
        // A Binding, not `value: root.value`: dragging would break that.
        Binding on value { value: root.value }
        ToolTip.visible: hovered || pressed
        ToolTip.text: qsTr("Low keeps the image; high lets the prompt take over. Double-click resets to %1.").arg(root.defaultValue)
        TapHandler {
            onDoubleTapped: {
                slider.value = root.defaultValue
                root.moved(root.defaultValue)
            }
        }
    }

    Label {
        id: stepsLabel
        objectName: "stepsLabel"
        Layout.fillWidth: true
        visible: root.stepsToRun >= 0
        text: qsTr("Runs %1 of %2 steps").arg(root.stepsToRun).arg(root.steps)
        color: Theme.mutedText
        font.pointSize: Qt.application.font.pointSize * Theme.smallFont
    }
}
